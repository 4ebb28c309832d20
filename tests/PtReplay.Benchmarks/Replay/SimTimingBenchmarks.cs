using BenchmarkDotNet.Attributes;
using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Replay.Timing;
using PtReplay.Traces;

namespace PtReplay.Benchmarks.Replay;

/// <summary>
/// The sim engine over a whole prepared trace (the checked-in python sample, traces/samples/python.trace),
/// per call, without a clock read per call and with each timer. The differences to NoTiming are what
/// the per-call latency measurement costs the model.
/// Run: dotnet run -c Release --project tests/PtReplay.Benchmarks -- --filter '*SimTimingBenchmarks*'
/// </summary>
public class SimTimingBenchmarks
{
    private string _dir = null!;
    private PreparedTrace _trace = null!;
    private TraceHeader _header = null!;
    private ModelTimer _stopwatch = null!;
    private ModelTimer _tsc = null!;

    /// <summary>Calls in the trace (OperationsPerInvoke must be a constant: the sample's call count, checked in setup).</summary>
    private const int SampleCalls = 101_580;

    [GlobalSetup]
    public void Setup()
    {
        string sample = FindSample("python.trace");
        _dir = Directory.CreateTempSubdirectory("ptreplay-bench-").FullName;
        using (var reader = TraceReader.Open(sample))
        {
            _header = reader.Header;
            _trace = TracePreparer.Prepare(reader.ReadAll(), Path.Combine(_dir, "prepared.bin"));
        }

        _stopwatch = ModelTimer.Select(TimerPreference.Stopwatch);
        _tsc = ModelTimer.Select(TimerPreference.Tsc);
        if (_tsc.Kind != TimerKind.Tsc)
        {
            throw new InvalidOperationException(_tsc.Description);
        }

        Console.WriteLine($"// sample calls: {_trace.CallCount} (per-call figures below divide by {SampleCalls})");
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_dir, recursive: true);

    /// <summary>No clock read per call.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = SampleCalls)]
    public long NoTiming() => Run(null);

    /// <summary>Two Stopwatch reads per call.</summary>
    [Benchmark(OperationsPerInvoke = SampleCalls)]
    public long StopwatchTiming() => Run(_stopwatch);

    /// <summary>Two TSC reads per call.</summary>
    [Benchmark(OperationsPerInvoke = SampleCalls)]
    public long TscTiming() => Run(_tsc);

    private long Run(ModelTimer? timer)
    {
        EngineResult r = SimEngine.Run(_trace, _header, new ReplayOptions(), null, timer);
        return r.Error is null ? r.Calls : throw new InvalidOperationException(r.Error);
    }

    private static string FindSample(string name) =>
        RepositoryFiles.FindAbove(Path.Combine("traces", "samples", name), AppContext.BaseDirectory) ??
        throw new FileNotFoundException($"traces/samples/{name} not found above {AppContext.BaseDirectory}", name);
}
