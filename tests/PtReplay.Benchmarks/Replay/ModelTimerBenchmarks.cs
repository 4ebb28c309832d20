using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using PtReplay.Replay.Timing;

namespace PtReplay.Benchmarks.Replay;

/// <summary>
/// Cost of one clock read for the model's per-call latency: Stopwatch.GetTimestamp (clock_gettime
/// through the vDSO) against the TSC through libptreplay-clock.so (an unmanaged call without GC
/// transition). Each benchmark reads its clock 16 times in a row; the figure is per read.
/// Run: dotnet run -c Release --project tests/PtReplay.Benchmarks -- --filter '*ModelTimerBenchmarks*'
/// </summary>
#pragma warning disable CA1822 // BenchmarkDotNet calls benchmark and setup methods on an instance
public class ModelTimerBenchmarks
{
    private const int Reads = 16;

    [GlobalSetup]
    public void Setup()
    {
        if (!CycleCounter.TryLoad(out string? error))
        {
            throw new InvalidOperationException(error);
        }
    }

    /// <summary>Stopwatch.GetTimestamp: the sim engine's clock before the cycle timer.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Reads)]
    public long StopwatchRead()
    {
        long sum = 0;
        for (int i = 0; i < Reads; i++)
        {
            sum += Stopwatch.GetTimestamp();
        }

        return sum;
    }

    /// <summary>The TSC through the native function pointer (<see cref="TscTicks"/>).</summary>
    [Benchmark(OperationsPerInvoke = Reads)]
    public long TscRead()
    {
        long sum = 0;
        for (int i = 0; i < Reads; i++)
        {
            sum += TscTicks.Now();
        }

        return sum;
    }
}
#pragma warning restore CA1822
