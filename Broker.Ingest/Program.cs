var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddIngestServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapIngestApi();

app.Run();

/// <summary>The entry point, public so tests can host the service in-process.</summary>
public partial class Program;
