using PtReplay.Allocator.Tunables;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Traces;
using PtReplay.Traces.ProcessTrees;

namespace PtReplay.Replay.Parity;

/// <summary>
/// `ptreplay verify`'s run: a trace replayed by <see cref="ReplayRunner"/> into the sim engine with its address check
/// (<see cref="ReplayOptions.CheckAddresses"/>, <see cref="AddressCheck"/>), so verify prepares and replays exactly as
/// `replay --engine sim` does: thread exits where glibc ran them (<see cref="ThreadExitPlacement"/>), a forked child
/// behind its inherited heap (<see cref="InheritedReplay"/>), bad events skipped and counted by the preparation
/// (<see cref="TracePreparer"/>), the model set up from the header (<see cref="Sim.ModelSetup"/>).
/// Settings: no page touching and no timing (neither changes an address); the prepared file lives in a temporary
/// folder that is removed. A divergence names the recorded event (re-read from the trace by its index).
/// </summary>
public static class TraceVerifier
{
    /// <summary>Calls between two samples: verify needs no series, only the end figures.</summary>
    private const long SampleEvery = 1_000_000;

    /// <summary>
    /// Verifies the trace open in <paramref name="reader"/> (its events are read once; a damaged block throws
    /// <see cref="TraceCorruptException"/>). <paramref name="inherited"/> (from <see cref="InheritedHeap.Find"/>) puts a
    /// forked child's inherited heap first; <paramref name="tunables"/> overrides the recorded malloc environment.
    /// </summary>
    public static AddressParity Run(TraceReader reader, InheritedHeap? inherited = null, MallocTunables? tunables = null,
        Action<long>? prepareProgress = null, Action<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string path = reader.Path;
        return Check(path, reader.Header, reader.ReadAll(), inherited, tunables, prepareProgress, progress, index => EventAt(path, index),
            () => ReadAgain(path));
    }

    /// <summary>The events of the trace file at <paramref name="tracePath"/> from its start (the streamed replay's second pass).</summary>
    private static IEnumerable<AllocEvent> ReadAgain(string tracePath)
    {
        using TraceReader reader = TraceReader.Open(tracePath);
        foreach (AllocEvent e in reader.ReadAll())
        {
            yield return e;
        }
    }

    /// <summary>Event <paramref name="index"/> (reader order) of the trace file at <paramref name="tracePath"/>; null past its end.</summary>
    public static AllocEvent? EventAt(string tracePath, long index)
    {
        using TraceReader reader = TraceReader.Open(tracePath);
        long i = 0;
        foreach (AllocEvent e in reader.ReadAll())
        {
            if (i++ == index)
            {
                return e;
            }
        }

        return null;
    }

    /// <summary>Names the first divergence of <paramref name="parity"/>'s own part by the recorded event (it has the prepared op's form until then).</summary>
    public static void NameFirstDivergence(AddressParity parity, Func<long, AllocEvent?> eventAt)
    {
        ArgumentNullException.ThrowIfNull(parity);
        ArgumentNullException.ThrowIfNull(eventAt);
        if (parity.Report.First is { } first && eventAt(first.EventIndex) is { } recorded)
        {
            parity.Report.First = first with { Event = recorded.ToString() };
        }
    }

    /// <summary>Verifies events recorded under <paramref name="header"/> (no forked-child prefix); returns their report.</summary>
    public static ParityReport Run(TraceHeader header, IReadOnlyList<AllocEvent> events, MallocTunables? tunables = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(events);
        return Check("(events)", header, events, null, tunables, null, null,
            index => index >= 0 && index < events.Count ? events[(int)index] : null, () => events).Report;
    }

    private static AddressParity Check(string tracePath, TraceHeader header, IEnumerable<AllocEvent> events, InheritedHeap? inherited,
        MallocTunables? tunables, Action<long>? prepareProgress, Action<double>? progress, Func<long, AllocEvent?> eventAt,
        Func<IEnumerable<AllocEvent>> reopen)
    {
        string work = Directory.CreateTempSubdirectory("ptreplay-verify-").FullName;
        try
        {
            var options = new ReplayOptions
            {
                CheckAddresses = true,
                Touch = TouchMode.None,
                NoTiming = true,
                Tunables = tunables?.ToGlibcTunables(),
                PrepareProgress = prepareProgress,
                Progress = progress is null ? null : (_, fraction) => progress(fraction),
            };
            ReplayReport report = ReplayRunner.Run(tracePath, inherited?.OldestHeader ?? header, events, ["sim"], work, options,
                new PreparationOptions { SampleEvery = SampleEvery }, inherited: inherited, traceHeader: header, reopen: reopen);
            EngineResult sim = report.Results[0];
            AddressParity parity = sim.Parity ?? throw new ArgumentException($"the model could not run: {sim.Error}", nameof(tunables));
            NameFirstDivergence(parity, eventAt);
            return parity;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
