using System.Globalization;
using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;
using PtReplay.Replay.Findings;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Timing;
using PtReplay.Traces;

namespace PtReplay.Replay.Sim;

/// <summary>
/// The sim engine's replay (same model setup, op rules, preamble and fork handling as <see cref="SimEngine"/>, without
/// timing or sampling) stopped at a <see cref="SimStop"/>, handing back the model so its heap can be inspected.
/// The op count is that of the prepared trace (every call, thread exit and fork marker is one op, in replay order).
/// </summary>
public static class SimSnapshot
{
    /// <summary>
    /// Replays <paramref name="trace"/> up to <paramref name="stop"/>. Returns the model and the number of ops replayed;
    /// throws <see cref="ArgumentOutOfRangeException"/> for an op count outside 0..OpCount, <see cref="FormatException"/> for
    /// bad tunables and <see cref="MallocAbortException"/> (with the event index in its message) when the model aborts.
    /// </summary>
    public static (Ptmalloc Model, long Ops, ulong CommittedBytes) Run(
        PreparedTrace trace, TraceHeader header, ReplayOptions options, string? tunables, SimStop stop) =>
        Run(trace, header, options, tunables, stop, null);

    /// <summary>
    /// As <see cref="Run(PreparedTrace, TraceHeader, ReplayOptions, string?, SimStop)"/>; <paramref name="ages"/> (when
    /// given) learns, for every block live at the stop, the op that allocated it.
    /// </summary>
    public static (Ptmalloc Model, long Ops, ulong CommittedBytes) Run(
        PreparedTrace trace, TraceHeader header, ReplayOptions options, string? tunables, SimStop stop, LiveBlockAges? ages)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(options);
        long target = stop.Kind switch
        {
            SimStopKind.End => trace.OpCount,
            SimStopKind.AfterOps when stop.Ops >= 0 && stop.Ops <= trace.OpCount => stop.Ops,
            SimStopKind.AfterOps => throw new ArgumentOutOfRangeException(nameof(stop), string.Create(CultureInfo.InvariantCulture,
                $"op {stop.Ops} is outside the trace: it has {trace.OpCount} ops (0 to {trace.OpCount})")),
            _ => -1,
        };
        if (target < 0)
        {
            // First pass: the op after which the committed footprint is largest (the first such op).
            _ = Replay(trace, header, options, tunables, trace.OpCount, trackPeak: true, out long peakOp);
            target = peakOp;
        }

        (Ptmalloc model, long ops, _) = Replay(trace, header, options, tunables, target, trackPeak: false, out _, ages);
        return (model, ops, model.Footprint.CommittedBytes);
    }

    /// <summary>
    /// Replays the whole trace once and returns the model's largest committed footprint after any op and its committed
    /// footprint at the end (the figures a tunable is judged by), and the first op after which the peak was reached.
    /// </summary>
    public static (ulong PeakCommittedBytes, ulong EndCommittedBytes, long PeakOp) Footprints(
        PreparedTrace trace, TraceHeader header, ReplayOptions options, string? tunables)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(options);
        (Ptmalloc model, _, ulong peak) = Replay(trace, header, options, tunables, trace.OpCount, trackPeak: true, out long peakOp);
        return (peak, model.Footprint.CommittedBytes, peakOp);
    }

    /// <summary>
    /// Replays the whole trace, calling <paramref name="afterOp"/> with the number of ops done, the prepared index of the op
    /// just replayed and the model after every op (and once with 0 and -1 before the first). Returns the model at the end.
    /// </summary>
    public static Ptmalloc Observe(PreparedTrace trace, TraceHeader header, ReplayOptions options, string? tunables, Action<long, long, Ptmalloc> afterOp)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(afterOp);
        return Replay(trace, header, options, tunables, trace.OpCount, trackPeak: false, out _, null, afterOp).Model;
    }

    private static (Ptmalloc Model, long Ops, ulong Peak) Replay(
        PreparedTrace trace, TraceHeader header, ReplayOptions options, string? tunables, long target, bool trackPeak, out long peakOp,
        LiveBlockAges? ages = null, Action<long, long, Ptmalloc>? afterOp = null)
    {
        MallocTunables resolved = SimEngine.ResolveTunables(tunables, header);
        var model = new Ptmalloc(ModelSetup.Options(header, resolved, options.Touch));
        if (options.SimPreambleBytes != 0)
        {
            model.Malloc(0, options.SimPreambleBytes - 8);
        }

        peakOp = 0;
        ulong peak = trackPeak ? model.Footprint.CommittedBytes : 0;
        using var file = new PreparedFile(trace.Path);
        var slots = new ulong[file.Header.SlotCount];
        var cursor = new long[file.Header.ThreadCount];
        for (int t = 0; t < cursor.Length; t++)
        {
            cursor[t] = (long)file.Thread(t).OpStart;
        }

        int thread = (int)file.Header.FirstThread;
        long done = 0;
        afterOp?.Invoke(0, -1, model);
        while (done < target)
        {
            long index = cursor[thread]++;
            ref readonly PreparedOp op = ref file.Op(index);
            if (op.Kind == PreparedKind.Fork)
            {
                model.ForkChild(thread);
                if (ages is not null)
                {
                    ages.Forks++;
                }
            }

            ulong before = ages is not null && op.Slot != 0 ? slots[op.Slot] : 0;
            ulong result;
            try
            {
                SimEngine.Execute<StopwatchTicks>(model, thread, in op, slots, null, out result);
            }
            catch (MallocAbortException ex)
            {
                throw new MallocAbortException(string.Create(CultureInfo.InvariantCulture,
                    $"the model aborted as glibc would at trace event {file.EventIndex(index)} ({op.Kind}): {ex.GlibcMessage}"));
            }

            if (ages is not null)
            {
                ages.LastOp = index;
            }

            if (ages is not null && op.Slot != 0)
            {
                ages.Observe(before, slots[op.Slot], result, index);
            }

            done++;
            afterOp?.Invoke(done, index, model);
            if (trackPeak)
            {
                ulong c = model.Footprint.CommittedBytes;
                if (c > peak)
                {
                    peak = c;
                    peakOp = done;
                }
            }

            if (op.NextThread == PreparedFormat.NoThread)
            {
                break;
            }

            thread = op.NextThread;
        }

        return (model, done, peak);
    }
}
