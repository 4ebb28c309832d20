using System.Runtime.CompilerServices;
using PtReplay.Replay.GcProof;
using PtReplay.Results;

namespace PtReplay.Replay.Sim;

/// <summary>
/// The sim engine's watch on the runtime's garbage collector: marks the warm-up and each timed window with
/// <see cref="ReplayPhaseEvents"/>, counts in process the collections and the replay thread's allocations inside the
/// windows and, with <see cref="ReplayOptions.GcProof"/>, runs the whole engine under a <see cref="GcWindowSession"/>
/// whose events say which collections ran inside a window. Invariants: windows never overlap (each
/// <see cref="WindowBegins"/> is followed by its <see cref="WindowEnds"/>); the marking and counting at a window's edges
/// allocate nothing, and the counters are read outside the markers, so the window holds only the replay's own work.
/// </summary>
internal sealed class SimGcWatch : IDisposable
{
    private readonly GcWindowSession? _session;
    private int _window = -1;
    private int _gc0;
    private long _allocated0;
    private long _inWindows;
    private long _allocatedInWindows;

    private SimGcWatch(GcWindowSession? session) => _session = session;

    /// <summary>
    /// A watch; with <paramref name="proof"/> the EventPipe session is opened now (its events go to a temporary file,
    /// deleted on <see cref="Dispose"/>). Throws <see cref="InvalidOperationException"/> when the session cannot be opened.
    /// </summary>
    public static SimGcWatch Open(bool proof) =>
        new(proof ? GcWindowSession.Start(Path.Combine(Path.GetTempPath(), $"ptreplay-gc-{Environment.ProcessId}-{Guid.NewGuid():N}.nettrace")) : null);

    /// <summary>The warm-up begins.</summary>
    public static void WarmUpBegins() => ReplayPhaseEvents.Log.Begin(ReplayPhase.WarmUp, 0);

    /// <summary>The warm-up ends.</summary>
    public static void WarmUpEnds() => ReplayPhaseEvents.Log.End(ReplayPhase.WarmUp, 0);

    /// <summary>A timed window begins (call it just before the clock starts).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WindowBegins()
    {
        _window++;
        _gc0 = GC.CollectionCount(0);
        _allocated0 = GC.GetAllocatedBytesForCurrentThread();
        ReplayPhaseEvents.Log.Begin(ReplayPhase.TimedReplay, _window);
    }

    /// <summary>The current timed window ends (call it just after the last timed call).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void WindowEnds()
    {
        ReplayPhaseEvents.Log.End(ReplayPhase.TimedReplay, _window);
        _allocatedInWindows += GC.GetAllocatedBytesForCurrentThread() - _allocated0;
        _inWindows += GC.CollectionCount(0) - _gc0;
    }

    /// <summary>
    /// <paramref name="inProcess"/> completed with the windows' counts, the managed heap's figures and, with the proof,
    /// what the session's events say (the session is stopped here). Throws <see cref="InvalidOperationException"/> or
    /// <see cref="InvalidDataException"/> when the session's events cannot be read.
    /// </summary>
    public GcFigures Complete(GcFigures inProcess)
    {
        GCMemoryInfo heap = GC.GetGCMemoryInfo();
        bool anyCollection = heap.Index > 0;
        GcFigures figures = inProcess with
        {
            TimedWindows = _window + 1,
            CollectionsInTimedWindowsInProcess = _inWindows,
            AllocatedBytesInTimedWindows = _allocatedInWindows,
            HeapSizeBytes = anyCollection ? heap.HeapSizeBytes : null,
            HeapCommittedBytes = anyCollection ? heap.TotalCommittedBytes : null,
            HeapFragmentedBytes = anyCollection ? heap.FragmentedBytes : null,
        };
        if (_session is null)
        {
            return figures;
        }

        GcWindowReport report = _session.Stop();
        int fromEvents = report.CollectionsIn(ReplayPhase.TimedReplay);
        int windowsSeen = report.Of(ReplayPhase.TimedReplay).Count();
        return figures with
        {
            CollectionsInTimedWindows = fromEvents,
            CollectionsInWarmUp = report.CollectionsIn(ReplayPhase.WarmUp),
            EventsLost = report.EventsLost,
            SessionAllocatedBytes = report.CopierAllocatedBytes,
            ProofHolds = report.EventsLost == 0 && report.UnclosedWindows == 0 && windowsSeen == _window + 1 && fromEvents == _inWindows,
            Source = figures.Source + "; runtime events: an EventPipe session on the process (Microsoft-Windows-DotNETRuntime, GC keyword, " +
                "Informational), GCStart/GCStop placed against the harness's phase markers (" + ReplayPhaseEvents.SourceName + ")",
        };
    }

    /// <summary>Stops the session if it still runs and deletes its file.</summary>
    public void Dispose() => _session?.Dispose();
}
