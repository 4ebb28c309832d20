using BenchmarkDotNet.Running;

namespace PtReplay.Benchmarks;

/// <summary>Runs the BenchmarkDotNet suites: `dotnet run -c Release --project tests/PtReplay.Benchmarks -- --filter '*'`.</summary>
public static class Program
{
    /// <summary>Entry point; BenchmarkSwitcher picks suites from the arguments.</summary>
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
