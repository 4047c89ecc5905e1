using Broker.AppHost;
using Broker.AppHost.Resources;
using Broker.AppHost.Running;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// The whole broker with one command: `dotnet run --project AppHost`. Configuration: AppHost/appsettings.json,
// AppHost__* variables, or --AppHost:Key=value arguments (see AppHostOptions).
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Logging.ClearProviders(); // AppHost speaks through its Terminal
builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
builder.Services.AddOptions<AppHostOptions>().BindConfiguration(AppHostOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
// Time enough for every layer of resources to stop in turn.
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMinutes(2));
builder.Services.AddSingleton<Terminal>();
builder.Services.AddSingleton(_ => new HttpClient { Timeout = TimeSpan.FromSeconds(5) });
builder.Services.AddSingleton(sp =>
{
    var options = sp.GetRequiredService<IOptions<AppHostOptions>>().Value;
    var servicesDirectory = options.ServicesDirectory ?? Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", ".."));
    var configuration = new DirectoryInfo(AppContext.BaseDirectory).Name;
    return ResourceModel.Build(options, RepositoryRoot(), servicesDirectory, configuration, sp.GetRequiredService<HttpClient>());
});
builder.Services.AddHostedService<Orchestrator>();

try
{
    await builder.Build().RunAsync();
    return 0;
}
catch (Exception ex) when (ex is InvalidOperationException or OptionsValidationException)
{
    Console.Error.WriteLine($"AppHost: {ex.Message}");
    return 1;
}

// The repository's root (where Broker.slnx is), for the data folder; the current directory when run from elsewhere.
static string RepositoryRoot()
{
    for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
    {
        if (File.Exists(Path.Combine(folder.FullName, "Broker.slnx")))
        {
            return folder.FullName;
        }
    }
    return Directory.GetCurrentDirectory();
}
