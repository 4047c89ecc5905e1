// An empty host for now: it serves /health, /alive and /metrics and nothing else.
// Its API arrives with issue 4; until then it answers 404 to everything but the defaults.
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
