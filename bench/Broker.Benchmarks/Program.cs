using BenchmarkDotNet.Running;

namespace Broker.Benchmarks;

/// <summary>
/// Runs the codec benchmarks: <c>dotnet run -c Release --project bench/Broker.Benchmarks -- --filter '*'</c>
/// (add <c>--job short</c> for a quick look, <c>--job dry</c> to prove they run).
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
