using PtReplay.Tests.Allocator;
using PtReplay.Replay.Parity;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Parity;

/// <summary>
/// Parity on recordings of the bundled multi-thread workload (traces/workloads/mt_alloc.c). In its
/// <c>--lockstep</c> mode exactly one thread calls the allocator at a time in a fixed schedule, with
/// cross-thread frees, thread exits and arena reuse, so glibc's layout repeats and the model must return
/// every address glibc returned (arena chunks compared by arena creation order, heap and offset); the
/// free-running mode must at least be replayed to its end with a parity figure.
/// </summary>
public sealed class MultiThreadParityTests : IDisposable
{
    private const int Threads = 3;
    private const int Rounds = 150;

    private readonly TempDir _dir = new("ptreplay-mt-");

    public void Dispose() => _dir.Dispose();

    private string Record(string[] args, string tunables)
    {
        var env = CleanEnvironment.With();
        if (tunables.Length > 0)
            env["GLIBC_TUNABLES"] = tunables;
        var result = RecordedRun.Run([NativeArtifacts.Find(NativeArtifacts.MtWorkload), .. args], _dir.File("mt.trace"), env,
            workingDirectory: _dir.Path);
        Assert.Equal(0, result.ExitCode);
        return result.TracePath;
    }

    [Theory]
    [InlineData("")]
    [InlineData("glibc.malloc.arena_max=1")]
    [InlineData("glibc.malloc.arena_max=2")]
    public void Lockstep_ReplayedInRecordedOrder_FullParity(string tunables)
    {
        string trace = Record(["--lockstep", Threads.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Rounds.ToString(System.Globalization.CultureInfo.InvariantCulture), "5"], tunables);
        using var reader = TraceReader.Open(trace);
        if (tunables.Length > 0)
            Assert.Contains("GLIBC_TUNABLES=" + tunables, reader.Header.MallocEnvironment);
        var events = reader.ReadAll().ToList();
        Assert.Equal(1 + Threads + (Threads + 1) + Threads, reader.ThreadTids.Count); // main + three phases of workers
        AssertTurnsInScheduleOrder(events);

        var report = TraceVerifier.Run(reader.Header, events);
        Assert.True(report.First is null, report.First is { } d ? $"event {d.EventIndex} {d.Event}: {d.Reason}\n{d.ModelState}" : "");
        Assert.Null(report.Abort);
        Assert.Equal(0, report.UnknownPointers);
        Assert.True(report.Allocations > 2000, $"only {report.Allocations} allocations");
        Assert.Equal(report.Allocations, report.Identical);
    }

    /// <summary>
    /// The reader's merged order is the real order: within each phase the workers' turns (maximal runs of
    /// one worker's calls) follow the token's cycle for all rounds, so no two threads' calls were swapped.
    /// </summary>
    private static void AssertTurnsInScheduleOrder(List<AllocEvent> events)
    {
        int[] phaseSizes = [Threads, Threads + 1, Threads];
        int firstThread = 1;
        foreach (int workers in phaseSizes)
        {
            var runs = new List<int>();
            foreach (var e in events)
            {
                if (e.Thread < firstThread || e.Thread >= firstThread + workers
                    || e.Kind is EventKind.ThreadStart or EventKind.ThreadExit)
                    continue;
                if (runs.Count == 0 || runs[^1] != e.Thread)
                    runs.Add(e.Thread);
            }
            Assert.True(runs.Count >= Rounds * workers, $"{runs.Count} turns in a phase of {workers} workers");
            for (int k = workers; k < Rounds * workers; k++)
                Assert.True(runs[k] == runs[k - workers], $"turn {k}: thread {runs[k]}, expected {runs[k - workers]}");
            Assert.Equal(workers, runs.Take(workers).Distinct().Count());
            firstThread += workers;
        }
    }

    [Fact]
    public void FreeRunning_ReportsAParityFigure()
    {
        string trace = Record(["4", "1500"], "");
        using var reader = TraceReader.Open(trace);
        var output = new StringWriter();
        int exit = PtReplay.Cli.Commands.VerifyCommand.Run(reader, null, output, TextWriter.Null);
        string text = output.ToString();
        Assert.True(exit is 0 or 1, text);
        var m = System.Text.RegularExpressions.Regex.Match(text, @"parity: (\d+)/(\d+) allocations identical\s*$");
        Assert.True(m.Success, text);
        Assert.True(long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) > 3000, text);
        Assert.Equal(exit == 0, m.Groups[1].Value == m.Groups[2].Value);
        Assert.DoesNotContain("glibc would abort", text, StringComparison.Ordinal);
    }
}
