var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddDeliveryServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapDeliveryApi();

app.Run();

/// <summary>The entry point, public so tests can host the service in-process.</summary>
public partial class Program;
