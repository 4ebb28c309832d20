using System.Diagnostics;
using PtReplay.Allocator;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Timing;

namespace PtReplay.Replay.Sim;

/// <summary>
/// Brings the model's code to steady state before a timed replay, so that a 40-call trace and a 40 M-call trace
/// measure the same thing: the cost of the model's calls, not the one-time costs of their first run (JIT
/// compilation, type loading, static constructors, the first use of the timer and the histogram).
/// <code>
///  1 script      WarmUpScript, Rounds times, each on a fresh scratch Ptmalloc: every call kind and allocator path
///                (JIT of each model method; hot methods are AggressiveOptimization, so compiled once, fully optimized)
///  2 GC          one collection, so no collection of the warm-up's garbage falls inside a timed call
///  3 rehearsal   the trace's own first RehearsalOps ops (up to a fork marker) on another scratch model, so the paths
///                the replay starts with are hot in the caches when the real model's first call is timed
///  4 prime       (<see cref="Prime"/>, after the real model is built, just before the clock starts) the trace's first
///                PrimeOps ops once more on a fresh scratch model, so a fresh model's first calls are the last code run
/// </code>
/// Every model call runs through the very code the replay times (<see cref="SimEngine"/>'s Execute with the same
/// clock, into a throw-away histogram); the footprint is read after every script op as sampling does, and each scratch
/// model forks once. Scratch models are built with the real model's options (tunables, page size, CPUs, touch model)
/// and dropped: the allocator keeps no state outside a <see cref="Ptmalloc"/> instance, so the real model's addresses
/// and series are the same with or without a warm-up. The real model is built after the warm-up, with
/// <see cref="HostPages"/> host page arrays reserved.
/// <para>Waiting for the runtime to promote tier-0 code (call count 30, then a 100 ms quiet delay) was measured and
/// left out: after a sleep the first calls ran slower (cold caches), and the hot paths are not tier-0 code anyway.</para>
/// </summary>
internal static class SimWarmUp
{
    /// <summary>
    /// Rounds of the script: the first compiles (about 0.2-0.5 s of JIT on the project VM), the second runs the compiled
    /// code end to end (about 10 ms); more rounds were measured to change nothing in the replay's latency.
    /// </summary>
    public const int Rounds = 2;

    /// <summary>Ops of the trace rehearsed on a scratch model.</summary>
    public const int RehearsalOps = 256;

    /// <summary>
    /// Ops of the trace run once more on a fresh scratch model at the very end (<see cref="Prime"/>), so the path of a
    /// fresh model's first calls (the heap's initialization) is the last code run before the real model's first call
    /// (measured: the first call of a 74-call shell trace took about 0.6 us instead of 0.9 us; run after the real model is
    /// built rather than before it, the trace's malloc p99 went from 295-343 ns to 219-263 ns, medians of 7 replays).
    /// </summary>
    public const int PrimeOps = 2;

    /// <summary>
    /// Page arrays the engine reserves for the real model after the warm-up (<see cref="Ptmalloc.ReserveHostPages"/>), so
    /// its first calls do not allocate host memory (measured: the first malloc of a 74-call shell trace 0.70 us
    /// instead of 0.87 us, medians of 16 replays).
    /// </summary>
    public const int HostPages = 8;

    /// <summary>At most this many host pages (256 MiB) are reserved ahead of a replay (<see cref="HostPagesFor"/>).</summary>
    public const int MaxHostPages = 1 << 16;

    /// <summary>
    /// Host pages to reserve for the real model ahead of its timed replay: <see cref="HostPages"/> plus one per 4 KiB of
    /// the trace's peak live bytes, at most <see cref="MaxHostPages"/>. A heap of small blocks writes metadata into about
    /// every page it spans, so its growth then takes reserved pages, already mapped in, instead of allocating and
    /// faulting them in inside timed calls; large mmapped blocks need fewer pages than that (the rest stays unused).
    /// </summary>
    public static int HostPagesFor(ulong peakLiveBytes) => (int)Math.Min(MaxHostPages, HostPages + (peakLiveBytes / 4096));

    /// <summary>
    /// Runs the warm-up for a replay of <paramref name="file"/> timed with <paramref name="timer"/> (null: the untimed
    /// path, as --no-timing replays). <paramref name="slots"/> is the replay's slot array, all zero: the rehearsal
    /// borrows it and leaves it all zero again.
    /// </summary>
    public static SimWarmUpReport Run(ModelOptions options, ModelTimer? timer, PreparedFile file, ulong[] slots)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(slots);
        long start = Stopwatch.GetTimestamp();
        SimWarmUpReport report = RunScript(options, timer, Rounds);
        GC.Collect();
        int rehearsed = Rehearse(file, options, timer, slots, RehearsalOps);
        return report with { ElapsedNs = (long)Stopwatch.GetElapsedTime(start).TotalNanoseconds, RehearsedOps = rehearsed };
    }

    /// <summary>
    /// The last step before the clock starts, after the real model is built (its construction and its host-page reserve
    /// would otherwise come between): the trace's first <see cref="PrimeOps"/> ops on a fresh scratch model.
    /// </summary>
    public static void Prime(PreparedFile file, ModelOptions options, ModelTimer? timer, ulong[] slots) =>
        Rehearse(file, options, timer, slots, PrimeOps);

    /// <summary>Runs <paramref name="rounds"/> rounds of <see cref="WarmUpScript"/>, each on a fresh scratch model.</summary>
    public static SimWarmUpReport RunScript(ModelOptions options, ModelTimer? timer, int rounds)
    {
        ArgumentNullException.ThrowIfNull(options);
        long start = Stopwatch.GetTimestamp();
        var script = WarmUpScript.Build(options.PageSize);
        bool tsc = timer?.Kind == TimerKind.Tsc;
        LatencyHistogram? histogram = timer is null ? null : new LatencyHistogram(timer.TicksPerNs);
        var calls = new long[(int)PreparedKind.Fork + 1];
        var evidence = new WarmUpEvidence();
        var samples = new List<SeriesPoint>();
        int aborted = 0;
        for (int round = 0; round < rounds; round++)
        {
            var model = new Ptmalloc(options) { DeferTouch = true };
            var slots = new ulong[script.SlotCount];
            samples.Clear();
            try
            {
                foreach (WarmUpOp step in script.Ops)
                {
                    PreparedOp op = step.Op;
                    if (tsc ? SimEngine.Execute<TscTicks>(model, step.Thread, in op, slots, histogram, out _)
                            : SimEngine.Execute<StopwatchTicks>(model, step.Thread, in op, slots, histogram, out _)
                        || op.Kind == PreparedKind.ThreadExit)
                    {
                        calls[(int)op.Kind]++;
                    }

                    MemoryFootprint fp = model.Footprint;
                    samples.Add(new SeriesPoint(samples.Count, 0, fp.CommittedBytes, fp.ResidentBytes));
                    evidence.Observe(fp);
                }
            }
            catch (MallocAbortException)
            {
                // Not expected under any tunables (the script frees only what it allocated), but a warm-up must never
                // stop a replay: the round ends here, the replay runs as it would have.
                aborted++;
                continue;
            }

            evidence.Finish(model);
            model.ForkChild(0);
            calls[(int)PreparedKind.Fork]++;
            _ = model.MallInfo2();
        }

        return new SimWarmUpReport((long)Stopwatch.GetElapsedTime(start).TotalNanoseconds, rounds, script.Ops.Count, calls, evidence)
        {
            AbortedRounds = aborted,
        };
    }

    /// <summary>
    /// Replays the first <paramref name="maxOps"/> ops of <paramref name="file"/> in the recorded global order on a
    /// scratch model (stopping at a fork marker or a model abort), then zeroes the slots it wrote in
    /// <paramref name="slots"/>. Returns the ops executed.
    /// </summary>
    internal static int Rehearse(PreparedFile file, ModelOptions options, ModelTimer? timer, ulong[] slots, int maxOps)
    {
        var model = new Ptmalloc(options) { DeferTouch = true };
        bool tsc = timer?.Kind == TimerKind.Tsc;
        LatencyHistogram? histogram = timer is null ? null : new LatencyHistogram(timer.TicksPerNs);
        var cursor = new long[file.Header.ThreadCount];
        for (int t = 0; t < cursor.Length; t++)
        {
            cursor[t] = (long)file.Thread(t).OpStart;
        }

        int thread = (int)file.Header.FirstThread;
        int done = 0;
        try
        {
            while (done < maxOps && (ulong)done < file.Header.OpCount)
            {
                if (file.Streamed && !file.IsWritten(cursor[thread]))
                {
                    // The writer stays a window (at least PreparedStreamWriter.MinWindow ops) ahead of nothing consumed yet.
                    _ = file.WaitWritten(cursor[thread], 0);
                    if ((byte)file.Op(cursor[thread]).Kind == PreparedFormat.AbortKind)
                    {
                        break;
                    }
                }

                ref readonly PreparedOp op = ref file.Op(cursor[thread]);
                if (op.Kind == PreparedKind.Fork)
                {
                    break;
                }

                cursor[thread]++;
                done++;
                _ = tsc ? SimEngine.Execute<TscTicks>(model, thread, in op, slots, histogram, out _)
                        : SimEngine.Execute<StopwatchTicks>(model, thread, in op, slots, histogram, out _);
                if (op.NextThread == PreparedFormat.NoThread)
                {
                    break;
                }

                thread = op.NextThread;
            }
        }
        catch (MallocAbortException)
        {
            // The replay itself reports the abort, with its event index; the rehearsal only stops.
        }

        for (int t = 0; t < cursor.Length; t++)
        {
            for (long i = (long)file.Thread(t).OpStart; i < cursor[t]; i++)
            {
                slots[file.Op(i).Slot] = 0;
            }
        }

        return done;
    }
}
