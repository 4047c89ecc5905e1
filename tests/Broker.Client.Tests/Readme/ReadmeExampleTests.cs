using System.Diagnostics;
using Broker.Client.Tests.Hosting;
using Broker.Testing;

namespace Broker.Client.Tests.Readme;

/// <summary>The README's client example, as a user pastes it: its own console project, built and run against a live broker.</summary>
[Collection(RedisCollection.Name)]
public sealed class ReadmeExampleTests(RedisFixture redis)
{
    private const string Marker = "<!-- example: client";

    [Fact]
    public async Task The_READMEs_client_example_builds_and_produces_and_consumes()
    {
        var root = RepositoryRoot();
        var readme = await File.ReadAllTextAsync(Path.Combine(root, "README.md"));
        var start = readme.IndexOf(Marker, StringComparison.Ordinal);
        Assert.True(start >= 0, $"README.md has no '{Marker}' block");
        var code = readme[(readme.IndexOf("```csharp\n", start, StringComparison.Ordinal) + "```csharp\n".Length)..];
        code = code[..code.IndexOf("```", StringComparison.Ordinal)];

        var project = Path.Combine(Path.GetTempPath(), "readme-client-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(project);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(project, "Program.cs"), code);
            await File.WriteAllTextAsync(Path.Combine(project, "Example.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                  </PropertyGroup>
                  <ItemGroup>
                    <ProjectReference Include="{Path.Combine(root, "Broker.Client", "Broker.Client.csproj")}" />
                  </ItemGroup>
                </Project>
                """);
            await using var broker = LiveBroker.Start(redis);
            var (exit, output) = await RunAsync(project, broker.ConnectionString);
            Assert.True(exit == 0, $"the example exited {exit}:\n{output}");
            Assert.Contains("produced to partition", output, StringComparison.Ordinal);
            Assert.Contains("""consumed customer-7: {"total":12.5} (attempt 1)""", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(project, recursive: true);
        }
    }

    private static async Task<(int Exit, string Output)> RunAsync(string project, string connectionString)
    {
        var start = new ProcessStartInfo("dotnet", ["run", "--project", project])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = project,
        };
        start.Environment["ConnectionStrings__broker"] = connectionString;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet run of the example did not end in 4 minutes: {await output}{await error}");
        }
        return (process.ExitCode, await output + await error);
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Broker.slnx")))
            {
                return folder.FullName;
            }
        }
        throw new InvalidOperationException("No Broker.slnx above the test's folder.");
    }
}
