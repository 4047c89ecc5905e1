var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddDaprComponentServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapDaprComponent();

app.Run();

/// <summary>The entry point, public so tests can host the component in-process.</summary>
public partial class Program;
