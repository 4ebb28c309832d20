using BenchmarkDotNet.Attributes;
using PtReplay.Benchmarks.Traces;
using PtReplay.Replay.Preparation;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;

namespace PtReplay.Benchmarks.Replay;

/// <summary>
/// The two passes that keep the books of a trace's live set, over a whole real recording held in memory (so the
/// reader's time is left out): <see cref="TraceStatistics"/> (what `ptreplay info` computes) and
/// <see cref="TracePreparer"/> (the single preparation pass of `ptreplay replay`: live set, slots, op streams and
/// the prepared file, written to a temp folder). events/s = events (printed by the setup) / mean time.
/// <para>Input: the trace named by PTREPLAY_BENCH_TRACE if set; else a real recording of CPython made by the
/// recorder at setup (<see cref="BenchmarkTraces.PythonRecording"/>); else 4 million synthetic events.</para>
/// Run: `dotnet run -c Release --project tests/PtReplay.Benchmarks -- --filter '*Preparation*'`.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class PreparationBenchmarks
{
    private AllocEvent[] _events = [];
    private string _dir = "";

    /// <summary>Reads the input trace into memory.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "ptreplay-bench");
        Directory.CreateDirectory(_dir);
        string source = Environment.GetEnvironmentVariable("PTREPLAY_BENCH_TRACE") ?? BenchmarkTraces.PythonRecording(_dir) ?? BenchmarkTraces.Synthetic(_dir);
        using TraceReader reader = TraceReader.Open(source);
        _events = [.. reader.ReadAll()];
        Console.WriteLine($"// {_events.Length:N0} events ({source})");
    }

    /// <summary>`ptreplay info`'s statistics over every event.</summary>
    [Benchmark]
    public ulong Statistics()
    {
        var stats = new TraceStatistics();
        stats.Add(_events);
        return stats.PeakLiveBytes;
    }

    /// <summary>The replay's preparation pass over every event, prepared file included.</summary>
    [Benchmark]
    public ulong Prepare()
    {
        string output = Path.Combine(_dir, "bench.prepared");
        using var preparer = new TracePreparer(output);
        preparer.Add(_events);
        return preparer.Finish().PeakLiveBytes;
    }
}
