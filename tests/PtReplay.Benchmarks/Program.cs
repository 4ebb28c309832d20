using BenchmarkDotNet.Running;

namespace PtReplay.Benchmarks;

/// <summary>Runs the BenchmarkDotNet suites: `dotnet run -c Release --project tests/PtReplay.Benchmarks -- --filter '*'`.</summary>
public static class Program
{
    /// <summary>
    /// Entry point; BenchmarkSwitcher picks suites from the arguments. `write-streaming-trace PATH EVENTS` writes the
    /// synthetic trace of Replay/streaming-replay.sh instead, `write-threads-trace PATH WORKERS` one of many short-lived threads.
    /// </summary>
    public static void Main(string[] args)
    {
        if (args is ["write-streaming-trace", string path, string events])
        {
            Replay.StreamingTrace.Write(path, long.Parse(events, System.Globalization.CultureInfo.InvariantCulture));
            return;
        }

        if (args is ["write-threads-trace", string threadsPath, string workers])
        {
            Replay.ShortLivedThreadsTrace.Write(threadsPath, int.Parse(workers, System.Globalization.CultureInfo.InvariantCulture));
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
