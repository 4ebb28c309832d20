using System.Globalization;
using PtReplay.Replay.Parity;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// A signal handler that mallocs and frees, firing every 50 us while the main loop does the same: the
/// handler often interrupts the recorder in the middle of appending an event. Every call of both sides must
/// be in the trace, whole, and the trace must replay to identical addresses.
/// </summary>
public class RecorderSignalHandlerTests
{
    private const ulong MainSize = 328;    // TestPrograms.SignalHandlerAllocations
    private const ulong HandlerSize = 184;
    private const ulong ThreadSize = 264;

    /// <summary>
    /// With the default clock most events may take the recorder's inline path (where the kernel's clocksource
    /// is the TSC); PTRECORD_CLOCK=monotonic sends every event through the out-of-line one.
    /// </summary>
    [Theory]
    [InlineData("sigaction", null)]
    [InlineData("siginfo", null)]
    [InlineData("signal", null)]
    [InlineData("sigaction", "monotonic")]
    public void HandlerCalls_AreAllRecordedWhole(string how, string? clock)
    {
        using var dir = new TempDir();
        (RecordingResult run, long mainMallocs, long handlerMallocs) = RecordAndCount(dir, how, clock, threads: 1);
        using var reader = TraceReader.Open(run.TracePath);
        ParityReport report = TraceVerifier.Run(reader.Header, [.. reader.ReadAll()]);
        Assert.True(report.First is null, report.First is { } d ? $"event {d.EventIndex} {d.Event}: {d.Reason}" : "");
        Assert.Null(report.Abort);
        Assert.Equal(report.Allocations, report.Identical);
        Assert.True(report.Allocations >= mainMallocs + handlerMallocs);
    }

    /// <summary>Two threads allocate; the signal lands in either, and every event of a second thread reads the clock.</summary>
    [Fact]
    public void HandlerCalls_InEitherOfTwoThreads_AreAllRecordedWhole()
    {
        using var dir = new TempDir();
        (RecordingResult run, _, _) = RecordAndCount(dir, "sigaction", null, threads: 2);
        using var reader = TraceReader.Open(run.TracePath);
        Assert.Equal(2, reader.ReadAll().Select(e => e.Thread).Distinct().Count());
    }

    /// <summary>
    /// With call stacks (`record --stacks`) the handler interrupts the unwinder and the stack table too: nothing deadlocks,
    /// every call is still recorded, the main loop's calls all carry a stack, and a handler's call carries one or id 0
    /// (when it interrupted the recorder), never a wrong id.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("libgcc")]
    public void HandlerCalls_WithStacks_AreAllRecordedWhole(string? unwinder)
    {
        using var dir = new TempDir();
        (RecordingResult run, _, _) = RecordAndCount(dir, "sigaction", null, threads: 1, stackDepth: 16, unwinder: unwinder);
        using var reader = TraceReader.Open(run.TracePath);
        List<AllocEvent> events = reader.ReadAll().ToList();
        Assert.All(events.Where(e => e.Kind == EventKind.Malloc && e.Size == MainSize), e => Assert.NotEqual(0, e.Stack));
        Assert.All(events.Where(e => e.Stack != 0), e => Assert.NotEmpty(reader.Stacks.Frames(e.Stack)));
        Assert.True(reader.Stacks.Count >= 2);
    }

    /// <summary>Records the program, checks that the trace holds exactly the calls it counted; returns the run and its counts.</summary>
    private static (RecordingResult Run, long MainMallocs, long HandlerMallocs) RecordAndCount(TempDir dir, string how, string? clock, int threads,
        int stackDepth = 0, string? unwinder = null)
    {
        string program = NativeTestBuild.Program("sigalloc", TestPrograms.SignalHandlerAllocations);
        Dictionary<string, string> env = RecordingRuns.BaseEnvironment(dir.Path);
        if (clock != null)
        {
            env["PTRECORD_CLOCK"] = clock;
        }

        if (unwinder != null)
        {
            env["PTRECORD_UNWIND"] = unwinder;
        }

        string n = threads.ToString(CultureInfo.InvariantCulture);
        RecordingResult plain = RecordedRun.Run([program, "1000", how, n], null, env);
        RecordingResult run = RecordedRun.RecordOrThrow([program, "300000", how, n], dir.File("s.trace"), env, stackDepth: stackDepth);
        string[] lines = CallsBySize.Lines(run.StandardOutput);
        string[] plainLines = CallsBySize.Lines(plain.StandardOutput);
        Assert.Equal(plainLines[1], lines[1]); // sigaction()/signal() report what they report without the recorder
        Assert.StartsWith("action 1 ", lines[1], StringComparison.Ordinal);

        long[] said = CallsBySize.NumbersIn(lines[0]);
        (long mainMallocs, long mainFrees, long handlerMallocs, long handlerFrees, long threadCalls) = (said[0], said[1], said[2], said[3], said[4]);
        Assert.True(handlerMallocs > 10, $"the timer fired only {handlerMallocs} times");

        using var reader = TraceReader.Open(run.TracePath);
        Assert.False(reader.IsTruncated);
        (Dictionary<ulong, long> mallocs, Dictionary<ulong, long> frees) = CallsBySize.Count(reader);

        Assert.Equal(mainMallocs, mallocs.GetValueOrDefault(MainSize));
        Assert.Equal(mainFrees, frees.GetValueOrDefault(MainSize));
        Assert.Equal(handlerMallocs, mallocs.GetValueOrDefault(HandlerSize));
        Assert.Equal(handlerFrees, frees.GetValueOrDefault(HandlerSize));
        Assert.Equal(threadCalls, mallocs.GetValueOrDefault(ThreadSize) + frees.GetValueOrDefault(ThreadSize));
        return (run, mainMallocs, handlerMallocs);
    }
}
