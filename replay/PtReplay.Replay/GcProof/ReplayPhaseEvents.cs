using System.Diagnostics.Tracing;

namespace PtReplay.Replay.GcProof;

/// <summary>
/// The harness's phase markers, an EventSource named <see cref="SourceName"/>: <see cref="PhaseBegin"/> and
/// <see cref="PhaseEnd"/> bracket each phase of an engine run (<see cref="ReplayPhase"/>) with the phase and its window
/// number, so the runtime's own events (garbage collections) recorded in the same EventPipe session can be placed
/// inside or outside the timed windows. Invariant: a marker allocates nothing on the managed heap, enabled or not
/// (two ints through <see cref="EventSource.WriteEvent(int, int, int)"/>, after an <see cref="EventSource.IsEnabled()"/>
/// check), so marking a window cannot cause the collection it is meant to detect.
/// <para>The event names avoid the Start/Stop suffixes on purpose: EventSource would treat such events as activities
/// and track them, which costs work at each marker.</para>
/// </summary>
[EventSource(Name = SourceName)]
public sealed class ReplayPhaseEvents : EventSource
{
    /// <summary>The EventSource's name, the provider to enable in an EventPipe session.</summary>
    public const string SourceName = "PtReplay-ReplayPhases";

    /// <summary>Event id of <see cref="PhaseBegin"/>.</summary>
    public const int PhaseBeginId = 1;

    /// <summary>Event id of <see cref="PhaseEnd"/>.</summary>
    public const int PhaseEndId = 2;

    /// <summary>The one instance.</summary>
    public static readonly ReplayPhaseEvents Log = new();

    private ReplayPhaseEvents()
    {
    }

    /// <summary>A phase begins; <paramref name="window"/> numbers the phase's windows in one engine run from 0.</summary>
    [Event(PhaseBeginId, Level = EventLevel.Informational)]
    public void PhaseBegin(int phase, int window)
    {
        if (IsEnabled())
        {
            WriteEvent(PhaseBeginId, phase, window);
        }
    }

    /// <summary>The phase's window <paramref name="window"/> ends.</summary>
    [Event(PhaseEndId, Level = EventLevel.Informational)]
    public void PhaseEnd(int phase, int window)
    {
        if (IsEnabled())
        {
            WriteEvent(PhaseEndId, phase, window);
        }
    }

    /// <summary>Marks the beginning of <paramref name="phase"/>'s window <paramref name="window"/>.</summary>
    [NonEvent]
    public void Begin(ReplayPhase phase, int window) => PhaseBegin((int)phase, window);

    /// <summary>Marks the end of <paramref name="phase"/>'s window <paramref name="window"/>.</summary>
    [NonEvent]
    public void End(ReplayPhase phase, int window) => PhaseEnd((int)phase, window);
}
