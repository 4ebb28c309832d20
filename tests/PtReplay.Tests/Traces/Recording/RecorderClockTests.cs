using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// The recorder's event clock (traces/recorder/ptrecord.h, "The event clock"): a single-threaded process
/// reads the clock on every n-th event only, n adapts to the pace of the calls (longer intervals while
/// calls are dense, every event while they are sparse), and PTRECORD_CLOCK_EVERY caps n.
/// </summary>
public class RecorderClockTests
{
    private const int DenseSize = 32;
    private const int SparseSize = 48;
    private const long SparseGapNs = 5000;

    private static List<AllocEvent> Record(TempDir dir, string? clock, string? every, params string[] phases)
    {
        string program = NativeTestBuild.Program("clockpace", TestPrograms.ClockPace);
        Dictionary<string, string> env = RecordingRuns.BaseEnvironment(dir.Path);
        if (clock != null)
        {
            env["PTRECORD_CLOCK"] = clock;
        }

        if (every != null)
        {
            env["PTRECORD_CLOCK_EVERY"] = every;
        }

        RecordingResult run = RecordedRun.Run([program, .. phases], dir.File("c.trace"), env, followChildren: true);
        Assert.Equal(0, run.ExitCode);
        return RecordingRuns.ReadEvents(run.TracePath);
    }

    /// <summary>Events of the phase whose mallocs have <paramref name="size"/>: the mallocs and the frees right after them.</summary>
    private static List<AllocEvent> Phase(List<AllocEvent> events, int size)
    {
        var phase = new List<AllocEvent>();
        for (int i = 0; i < events.Count - 1; i++)
        {
            if (events[i].Kind == EventKind.Malloc && events[i].Size == (ulong)size && events[i + 1].Kind == EventKind.Free)
            {
                phase.Add(events[i]);
                phase.Add(events[i + 1]);
            }
        }

        return phase;
    }

    /// <summary>Events that carry a new clock reading: a timestamp different from the event before.</summary>
    private static int Readings(List<AllocEvent> phase) =>
        phase.Zip(phase.Skip(1)).Count(p => p.Second.Timestamp != p.First.Timestamp);

    [Theory]
    [InlineData(null)]
    [InlineData("monotonic")]
    public void DenseCalls_ReadTheClockRarely_AndTheCapHolds(string? clock)
    {
        using var dir = new TempDir();
        List<AllocEvent> adaptive = Phase(Record(dir, clock, null, "dense", "200000"), DenseSize);
        List<AllocEvent> everyEvent = Phase(Record(dir, clock, "1", "dense", "200000"), DenseSize);
        List<AllocEvent> capped = Phase(Record(dir, clock, "8", "dense", "200000"), DenseSize);
        Assert.Equal(400_000, adaptive.Count);

        // Back-to-back calls (tens of ns apart): the interval grows well past the cap of 8.
        Assert.True(Readings(adaptive) < adaptive.Count / 16, $"{Readings(adaptive)} readings in {adaptive.Count} dense events");
        // PTRECORD_CLOCK_EVERY=1: every event reads the clock (1 ns resolution, calls tens of ns apart).
        Assert.True(Readings(everyEvent) > everyEvent.Count / 2, $"{Readings(everyEvent)} readings in {everyEvent.Count} events");
        // PTRECORD_CLOCK_EVERY=8: at most 8 events between readings.
        Assert.True(Readings(capped) >= capped.Count / 8 - 2, $"{Readings(capped)} readings in {capped.Count} events");
        Assert.All(new[] { adaptive, everyEvent, capped }, p => Assert.True(p.Zip(p.Skip(1)).All(x => x.Second.Timestamp >= x.First.Timestamp)));
    }

    /// <summary>
    /// After a dense phase the interval is long; once calls turn sparse (5 us apart) the first reading
    /// shrinks it to one event, so from then on every event carries its own, exact time.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("monotonic")]
    public void SparseCalls_AfterDenseOnes_EachReadTheClock(string? clock)
    {
        using var dir = new TempDir();
        List<AllocEvent> events = Record(dir, clock, null, "dense", "100000", "sparse", "300");
        List<AllocEvent> mallocs = events.Where(e => e.Kind == EventKind.Malloc && e.Size == SparseSize).ToList();
        Assert.Equal(300, mallocs.Count);

        // At most one interval (128 events) of the sparse phase can still reuse a dense-phase reading.
        const int Settled = 128;
        for (int i = Settled + 1; i < mallocs.Count; i++)
        {
            long gap = mallocs[i].Timestamp - mallocs[i - 1].Timestamp;
            Assert.True(gap >= SparseGapNs * 9 / 10, $"malloc {i} of the sparse phase is {gap} ns after the one before (it waited {SparseGapNs} ns)");
        }
    }

    /// <summary>
    /// The moment a second thread starts, every thread must read the clock on every event again: main,
    /// which was reusing readings, frees blocks a new thread allocated, and each free must come after
    /// that malloc in the reader's merged order (a free with a reused, older reading would come first).
    /// </summary>
    [Fact]
    public void WhenASecondThreadStarts_FreesOfItsBlocksComeAfterTheirMallocs()
    {
        using var dir = new TempDir();
        string program = NativeTestBuild.Program("handoff", TestPrograms.Handoff);
        RecordingResult run = RecordedRun.Run([program, "3"], dir.File("h.trace"), RecordingRuns.BaseEnvironment(dir.Path), followChildren: true);
        Assert.Equal(0, run.ExitCode);
        List<AllocEvent> events = RecordingRuns.ReadEvents(run.TracePath);
        var live = new HashSet<ulong>();
        int handedOver = 0;
        foreach (AllocEvent e in events)
        {
            switch (e.Kind)
            {
                case EventKind.Malloc or EventKind.Calloc or EventKind.Memalign or EventKind.PosixMemalign or EventKind.AlignedAlloc:
                    if (e.Result != 0)
                    {
                        live.Add(e.Result);
                    }

                    break;
                case EventKind.Realloc:
                    live.Remove(e.Ptr);
                    if (e.Result != 0)
                    {
                        live.Add(e.Result);
                    }

                    break;
                case EventKind.Free when e.Ptr != 0:
                    Assert.True(live.Remove(e.Ptr), $"free(0x{e.Ptr:x}) by thread {e.Thread} at {e.Timestamp} comes before the malloc that returned it");
                    handedOver += e.Thread == 0 && e.Timestamp > 0 ? 1 : 0;
                    break;
            }
        }

        Assert.True(events.Select(e => e.Thread).Distinct().Count() >= 4, "main and three workers");
        Assert.True(handedOver >= 12, $"{handedOver} frees by main");
    }
}
