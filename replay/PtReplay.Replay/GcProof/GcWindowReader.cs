using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace PtReplay.Replay.GcProof;

/// <summary>
/// Reads an EventPipe file (.nettrace) holding the runtime's GC events (GC keyword, Informational) and the phase markers
/// of <see cref="ReplayPhaseEvents"/>, with TraceEvent: the Clr parser gives GCStart/GCStop, the dynamic parser (the
/// EventSource's metadata travels in the file) the markers. A collection counts in a window when it ran at some moment
/// inside it: it began before the window's end and ended after its begin (a background collection can begin before a
/// window and go on inside it); one that never ended in the file is taken as running to the file's end.
/// </summary>
public static class GcWindowReader
{
    /// <summary>Reads <paramref name="nettracePath"/>; throws <see cref="InvalidDataException"/> naming it when it cannot be read as an EventPipe file.</summary>
    public static GcWindowReport Read(string nettracePath)
    {
        var begun = new Dictionary<int, double>();
        var ended = new Dictionary<int, double>();
        var open = new Dictionary<(int Phase, int Window), double>();
        var closed = new List<(int Phase, int Window, double Begin, double End)>();
        long lost;
        try
        {
            using var source = new EventPipeEventSource(nettracePath);
            source.Clr.GCStart += (GCStartTraceData e) => begun.TryAdd(e.Count, e.TimeStampRelativeMSec);
            source.Clr.GCStop += (GCEndTraceData e) => ended.TryAdd(e.Count, e.TimeStampRelativeMSec);
            source.Dynamic.All += e =>
            {
                if (e.ProviderName != ReplayPhaseEvents.SourceName)
                {
                    return;
                }

                int phase = Convert.ToInt32(e.PayloadByName("phase"), System.Globalization.CultureInfo.InvariantCulture);
                int window = Convert.ToInt32(e.PayloadByName("window"), System.Globalization.CultureInfo.InvariantCulture);
                if ((int)e.ID == ReplayPhaseEvents.PhaseBeginId)
                {
                    open[(phase, window)] = e.TimeStampRelativeMSec;
                }
                else if ((int)e.ID == ReplayPhaseEvents.PhaseEndId && open.Remove((phase, window), out double begin))
                {
                    closed.Add((phase, window, begin, e.TimeStampRelativeMSec));
                }
            };
            source.Process();
            lost = source.EventsLost;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // TraceEvent's own exceptions (format, end of stream, I/O) name neither the file nor the reason in user terms.
            throw new InvalidDataException($"{nettracePath}: not a readable EventPipe file: {ex.Message}", ex);
        }

        var windows = closed.Select(w => new PhaseWindow(w.Phase, w.Window, w.Begin, w.End,
            begun.Count(gc => gc.Value <= w.End && (ended.TryGetValue(gc.Key, out double stop) ? stop : double.MaxValue) >= w.Begin)))
            .ToList();
        return new GcWindowReport
        {
            Windows = windows,
            CollectionsInSession = begun.Count,
            EventsLost = lost,
            UnclosedWindows = open.Count,
        };
    }
}
