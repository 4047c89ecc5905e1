var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRegistryServices();

var app = builder.Build();

app.MapRegistry();

app.Run();

/// <summary>The entry point, public so tests can host the service in-process.</summary>
public partial class Program;
