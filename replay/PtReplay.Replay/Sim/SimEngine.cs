using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Parity;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Timing;
using PtReplay.Traces;

namespace PtReplay.Replay.Sim;

/// <summary>
/// The "sim" engine: replays a prepared trace into the C# ptmalloc model, single-threaded in the
/// recorded global order, with the same sample points as the native engines. Latency is the
/// model's own cost per call, read with <see cref="ModelTimer.Default"/> (the calibrated TSC where
/// usable, else Stopwatch; summary.json names it); RSS, footprint (committed) and address space come from the
/// model (<see cref="Ptmalloc.Footprint"/>), defined as the native engines measure them from the kernel's view, so
/// the series agree sample by sample with a glibc replay. Sampling time is measured and left out of the wall time.
/// The model has no timers: it ignores <see cref="ReplayOptions.Pace"/>. A model abort (glibc would have aborted) is the engine's error.
/// With <see cref="ReplayOptions.CheckAddresses"/> every address the model returns is compared with the recorded one
/// (<see cref="AddressCheck"/>; the prepared file must hold the recorded addresses) and the result carries
/// <see cref="EngineResult.Parity"/>, also when the model aborted.
/// <para>Latency is the model's steady state: before the clock starts, <see cref="SimWarmUp"/> runs the model's code
/// on scratch instances (unless <see cref="ReplayOptions.SimWarmUp"/> is off), so JIT compilation and other one-time
/// costs of the runtime stay out of the latency and of the wall time; the warm-up's own time is
/// <see cref="EngineResult.WarmupNs"/>. The extra figures timed_jit_methods and timed_jit_ns say what was still
/// compiled on the replay thread while the clock ran.</para>
/// <para>The warm-up and each timed window (first timed call to last; a fork starts a new one, and so does the end of a
/// wait for the streamed preparation's next window, the wait itself being outside) are marked with
/// <see cref="GcProof.ReplayPhaseEvents"/>; <see cref="SimGcWatch"/> counts the garbage collections inside the windows,
/// in process and, with <see cref="ReplayOptions.GcProof"/>, from the runtime's own events (<see cref="EngineResult.Gc"/>).</para>
/// </summary>
public static class SimEngine
{
    /// <summary>Ops between two releases of the prepared file's pages (a mask: 2^20 - 1, about 48 MB of ops and tables).</summary>
    private const ulong ReleaseEvery = (1UL << 20) - 1;

    /// <summary>Streamed file: ops between two punches (a mask): a quarter of the window, 2^10 to 2^20.</summary>
    internal static ulong StreamReleaseMask(ulong window)
    {
        ulong quarter = Math.Clamp(window / 4, 1UL << 10, 1UL << 20);
        return (1UL << (63 - System.Numerics.BitOperations.LeadingZeroCount(quarter))) - 1;
    }

    /// <summary>Footprint source of the model.</summary>
    public const string FootprintSource =
        "model: program break extent + each arena heap's read/write (mprotect_size) bytes + mmapped chunks (Ptmalloc.Footprint.CommittedBytes)";

    /// <summary>Address-space source of the model.</summary>
    public const string AddressSpaceSource =
        "model: program break extent + 64 MiB reserved per arena heap + mmapped chunks (Ptmalloc.Footprint.AddressSpaceBytes)";

    /// <summary>Source of the model's allocator-reported figure.</summary>
    public const string AllocatorStatsSource = "model mallinfo2: arena + hblkhd (Ptmalloc.Footprint.TotalBytes)";

    /// <summary>RSS source of the model.</summary>
    public const string RssSource = "model: simulated resident pages under the touch model (Ptmalloc.Footprint.ResidentBytes)";

    /// <summary>
    /// The tunables the model and glibc run with: <paramref name="tunables"/> when given, else the
    /// recorded process's malloc environment.
    /// </summary>
    public static MallocTunables ResolveTunables(string? tunables, TraceHeader header) => ModelSetup.Tunables(tunables, header);

    /// <summary>Runs the model over the prepared trace, timing calls with <see cref="ModelTimer.Default"/> (unless --no-timing).</summary>
    public static EngineResult Run(PreparedTrace trace, TraceHeader header, ReplayOptions options, string? tunables) =>
        Run(trace, header, options, tunables, options.NoTiming ? null : ModelTimer.Default);

    /// <summary>
    /// Runs the model over the prepared trace, timing each call with <paramref name="timer"/>; null (or
    /// <see cref="ReplayOptions.NoTiming"/>): no clock is read per call.
    /// </summary>
    public static EngineResult Run(PreparedTrace trace, TraceHeader header, ReplayOptions options, string? tunables, ModelTimer? timer) =>
        Run(trace, header, options, tunables, timer, null);

    /// <summary>
    /// As <see cref="Run(PreparedTrace, TraceHeader, ReplayOptions, string?, ModelTimer?)"/>; when
    /// <paramref name="addresses"/> is given, the block each call left in its slot (the address it returned; 0 after a
    /// free) is appended to it in replay order, outside the timed part of the call (tests compare replays address by
    /// address).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static EngineResult Run(PreparedTrace trace, TraceHeader header, ReplayOptions options, string? tunables, ModelTimer? timer,
        List<ulong>? addresses)
    {
        if (options.NoTiming)
        {
            timer = null;
        }

        MallocTunables resolved;
        try
        {
            resolved = ResolveTunables(tunables, header);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            return EngineResult.Failed("sim", $"bad tunables: {ex.Message}");
        }

        ModelOptions modelOptions = ModelSetup.Options(header, resolved, options.Touch);
        if (options.SimPreambleBytes != 0 && (options.SimPreambleBytes < 32 || options.SimPreambleBytes % 16 != 0))
        {
            return EngineResult.Failed("sim", string.Create(CultureInfo.InvariantCulture,
                $"preamble of {options.SimPreambleBytes} bytes is not a chunk size (a multiple of 16, at least 32)"));
        }

        using var file = new PreparedFile(trace.Path);
        if (options.CheckAddresses && !file.HasRecordedAddresses)
        {
            return EngineResult.Failed("sim", "the address check needs the recorded addresses in the prepared trace (PreparationOptions.RecordedAddresses)");
        }

        // Pinned: the replay prefetches slot entries by address (PrefetchAhead).
        ulong[] slots = GC.AllocateArray<ulong>(checked((int)file.Header.SlotCount), pinned: true);
        var sampleCursor = new long[file.Header.ThreadCount];
        for (int t = 0; t < sampleCursor.Length; t++)
        {
            sampleCursor[t] = (long)file.Thread(t).SampleStart;
        }

        var latency = new LatencyHistogram(timer?.TicksPerNs ?? Stopwatch.Frequency / 1e9);
        LatencyHistogram? timed = timer is null ? null : latency;
        // Each thread's first call (the model's heap and tcache set-up, a thread's arena) is timed apart, as in the native
        // replayer: a one-time cost, reported as first_call_max_ns, not in the percentiles.
        var firstCalls = new LatencyHistogram(timer?.TicksPerNs ?? Stopwatch.Frequency / 1e9);
        var called = new bool[file.Header.ThreadCount];
        bool tsc = timer?.Kind == TimerKind.Tsc;
        var points = new List<SeriesPoint>(trace.Samples.Count);
        long samplingTicks = 0;
        long calls = 0, done = 0;
        long progressStep = Math.Max(1, trace.OpCount / 100);
        // Before the warm-up: the progress display's first drawing (and its JIT) stays away from the first timed call.
        options.Progress?.Invoke("sim", 0);

        // The GC proof's session is open before the warm-up, so it sees the warm-up and every timed window.
        SimGcWatch opened;
        try
        {
            opened = SimGcWatch.Open(options.GcProof);
        }
        catch (InvalidOperationException ex)
        {
            return EngineResult.Failed("sim", $"--gc-proof: {ex.Message}");
        }

        using SimGcWatch watch = opened;

        // The warm-up comes last before the model is built and the clock starts, so the model's code is hot (not only
        // compiled) when the first call is timed.
        int gcAtStart = GC.CollectionCount(0);
        SimWarmUpReport? warmUp = null;
        if (options.SimWarmUp)
        {
            SimGcWatch.WarmUpBegins();
            warmUp = SimWarmUp.Run(modelOptions, timer, file, slots);
            SimGcWatch.WarmUpEnds();
        }

        // Built after the warm-up, so its first calls find its state in cache as the warm-up's scratch models did.
        var model = new Ptmalloc(modelOptions) { DeferTouch = true };
        if (warmUp is not null)
        {
            // Its new pages then take host memory allocated and mapped in here, not inside a timed call.
            // A single-thread program's heap is the break area (plus mmapped chunks, one header page each); thread arenas'
            // heaps live outside it and take their pages from the store.
            int pages = SimWarmUp.HostPagesFor(trace.PeakLiveBytes);
            model.ReserveHostPages(pages, trace.ThreadCount > 1 ? pages : SimWarmUp.HostPages);
        }

        AddressCheck? check = options.CheckAddresses ? new AddressCheck(model, header.Brk0, header.MemoryLimits) : null;
        if (options.SimPreambleBytes != 0)
        {
            // A request of n - 8 bytes is exactly one n-byte chunk (8 bytes of size header).
            model.TouchReturned(model.Malloc(0, options.SimPreambleBytes - 8));
        }

        if (warmUp is not null)
        {
            // The trace's first calls on a scratch model, as the last code run before the clock (SimWarmUp, step 4).
            SimWarmUp.Prime(file, modelOptions, timer, slots);
        }

        long jitMethods0 = JitInfo.GetCompiledMethodCount(currentThread: true);
        TimeSpan jitTime0 = JitInfo.GetCompilationTime(currentThread: true);
        int gcTimed0 = GC.CollectionCount(0);
        TimeSpan gcPause0 = GC.GetTotalPauseDuration();
        watch.WindowBegins();
        long start = Stopwatch.GetTimestamp();

        // The walk of PreparedFile.GlobalOrder(), written out: an iterator's MoveNext cannot be marked
        // AggressiveOptimization, and under tiered compilation it would run unoptimized code for the
        // first few million ops of a replay.
        var cursor = new long[file.Header.ThreadCount];
        var opEnd = new long[file.Header.ThreadCount];
        for (int t = 0; t < cursor.Length; t++)
        {
            cursor[t] = (long)file.Thread(t).OpStart;
            opEnd[t] = cursor[t] + (long)file.Thread(t).OpCount;
        }

        int thread = (int)file.Header.FirstThread;
        // A streamed file: wait for each op before reading it, and punch out what is done every quarter window. The
        // waits and the punching are left out of the wall time, like sampling (no call is timed across them).
        bool streamed = file.Streamed;
        ulong releaseMask = streamed ? StreamReleaseMask(file.Header.StreamWindow) : ReleaseEvery;
        long streamTicks = 0;
        int gcInWaits = 0;
        TimeSpan pauseInWaits = TimeSpan.Zero;
        ulong opCount = file.Header.OpCount;
        long progressLeft = progressStep;
        // Untimed and unchecked, the ops between two events of the loop below (a release of the file's pages, a progress
        // report, a sample, a fork, a wait for the streamed file) run in a loop of their own, RunPlain: the same calls in
        // the same order, without this method's bookkeeping per op.
        bool plain = timer is null && check is null && addresses is null;
        for (ulong n = 0; n < opCount; n++)
        {
            if (plain)
            {
                long limit = (long)Math.Min(releaseMask - (n & releaseMask), opCount - n);
                limit = Math.Min(limit, progressLeft - 1);
                if (limit > 0)
                {
                    long run;
                    bool ended = false;
                    try
                    {
                        run = RunPlain(model, file, cursor, opEnd, slots, streamed, ref thread, limit, ref calls, ref ended);
                    }
                    catch (MallocAbortException ex)
                    {
                        long failed = cursor[thread] - 1;
                        return EngineResult.Failed("sim", string.Create(CultureInfo.InvariantCulture,
                            $"the model aborted as glibc would at trace event {file.EventIndex(failed)} ({file.Op(failed).Kind}): {ex.GlibcMessage}"));
                    }

                    n += (ulong)run;
                    done += run;
                    progressLeft -= run;
                    if (ended || n >= opCount)
                    {
                        break;
                    }
                }
            }

            if ((n & releaseMask) == releaseMask)
            {
                if (streamed)
                {
                    long r0 = Stopwatch.GetTimestamp();
                    file.Consumed(n, cursor, sampleCursor);
                    streamTicks += Stopwatch.GetTimestamp() - r0;
                }
                else
                {
                    // Resident memory bounded by a window of the prepared file, whatever the trace's length.
                    file.ReleaseResidentPages();
                }
            }

            if (streamed && !file.IsWritten(cursor[thread]))
            {
                // The preparation writes the next window meanwhile, on another thread, and may collect garbage: the wait is
                // outside the timed windows, and its collections are not the replay's.
                watch.WindowEnds();
                int gcWait0 = GC.CollectionCount(0);
                TimeSpan pauseWait0 = GC.GetTotalPauseDuration();
                streamTicks += file.WaitWritten(cursor[thread], n);
                gcInWaits += GC.CollectionCount(0) - gcWait0;
                pauseInWaits += GC.GetTotalPauseDuration() - pauseWait0;
                watch.WindowBegins();
                if ((byte)file.Op(cursor[thread]).Kind == PreparedFormat.AbortKind)
                {
                    return EngineResult.Failed("sim", "the preparation stopped before the replay's end (see the error it reported)");
                }
            }

            long index = cursor[thread]++;
            ref readonly PreparedOp op = ref file.Op(index);
            PrefetchAhead(model, file, index, opEnd[thread], streamed, slots);

            if (op.Kind == PreparedKind.Fork)
            {
                // A forked child's replay: the ops so far rebuilt its parent's heap; measure the child from here.
                watch.WindowEnds();
                model.ForkChild(thread);
                check?.ForkChild();
                latency = new LatencyHistogram(timer?.TicksPerNs ?? Stopwatch.Frequency / 1e9);
                timed = timer is null ? null : latency;
                firstCalls = new LatencyHistogram(timer?.TicksPerNs ?? Stopwatch.Frequency / 1e9);
                // The forking thread goes on with its heap set up; the child's other threads are new.
                Array.Clear(called);
                called[thread] = true;
                calls = 0;
                points.Clear();
                samplingTicks = 0;
                gcTimed0 = GC.CollectionCount(0);
                gcPause0 = GC.GetTotalPauseDuration();
                gcInWaits = 0;
                pauseInWaits = TimeSpan.Zero;
                jitMethods0 = JitInfo.GetCompiledMethodCount(currentThread: true);
                jitTime0 = JitInfo.GetCompilationTime(currentThread: true);
                watch.WindowBegins();
                start = Stopwatch.GetTimestamp();
            }

            try
            {
                LatencyHistogram? into = timed is null ? null : called[thread] ? timed : firstCalls;
                bool isCall = tsc
                    ? Execute<TscTicks>(model, thread, in op, slots, into, out ulong result)
                    : Execute<StopwatchTicks>(model, thread, in op, slots, into, out result);
                if (isCall)
                {
                    calls++;
                    called[thread] = true;
                    if (check is not null && op.Kind != PreparedKind.Free)
                    {
                        check.Compare(file.EventIndex(index), in op, thread, file.RecordedAddress(index), result);
                    }
                    addresses?.Add(op.Kind == PreparedKind.Free || op.Slot == 0 ? 0 : slots[op.Slot]);
                }
            }
            catch (MallocAbortException ex)
            {
                check?.Aborted(file.EventIndex(index), ex.GlibcMessage);
                return EngineResult.Failed("sim", string.Create(CultureInfo.InvariantCulture,
                    $"the model aborted as glibc would at trace event {file.EventIndex(index)} ({op.Kind}): {ex.GlibcMessage}")) with
                {
                    Parity = check is null ? null : FinishCheck(check, trace),
                };
            }

            if ((op.Flags & OpMarks.Sample) != 0)
            {
                long s0 = Stopwatch.GetTimestamp();
                uint id = file.SampleId(sampleCursor[thread]++);
                MemoryFootprint fp = model.Footprint;
                LiveSample live = trace.Samples[(int)id];
                points.Add(new SeriesPoint(live.Seq, live.LiveBytes, fp.CommittedBytes, fp.ResidentBytes)
                {
                    TimestampNs = live.TimestampNs,
                    AddressSpaceBytes = fp.AddressSpaceBytes,
                    AllocatorBytes = fp.TotalBytes,
                });
                samplingTicks += Stopwatch.GetTimestamp() - s0;
            }

            ++done;
            if (--progressLeft == 0)
            {
                progressLeft = progressStep;
                options.Progress?.Invoke("sim", (double)done / trace.OpCount);
            }

            if (op.NextThread == PreparedFormat.NoThread)
            {
                break;
            }

            thread = op.NextThread;
        }

        long elapsedNs = (long)Stopwatch.GetElapsedTime(start).TotalNanoseconds;
        watch.WindowEnds();
        // A collection of any generation counts in generation 0's count.
        var inProcess = new PtReplay.Results.GcFigures
        {
            CollectionsInTimedReplay = GC.CollectionCount(0) - gcTimed0 - gcInWaits,
            CollectionsTotal = GC.CollectionCount(0) - gcAtStart,
            PauseNsInTimedReplay = (long)(GC.GetTotalPauseDuration() - gcPause0 - pauseInWaits).TotalNanoseconds,
            HeapBytes = GC.GetTotalMemory(false),
            Source = "in process: GC.CollectionCount(0) and GC.GetTotalPauseDuration() before the first and after the last timed call",
        };
        long jitMethods = JitInfo.GetCompiledMethodCount(currentThread: true) - jitMethods0;
        double jitNs = (JitInfo.GetCompilationTime(currentThread: true) - jitTime0).TotalNanoseconds;
        // After every figure of the replay itself: stopping the session and reading its events compiles and allocates.
        PtReplay.Results.GcFigures gc;
        try
        {
            gc = watch.Complete(inProcess);
        }
        catch (Exception ex) when (ex is InvalidOperationException or InvalidDataException)
        {
            return EngineResult.Failed("sim", $"--gc-proof: {ex.Message}");
        }

        long samplingNs = (long)(samplingTicks * (1e9 / Stopwatch.Frequency));
        long streamWaitNs = (long)(streamTicks * (1e9 / Stopwatch.Frequency));
        long wallNs = Math.Max(0, elapsedNs - samplingNs - streamWaitNs);
        MemoryFootprint final = model.Footprint;
        MallInfo2 mi = model.MallInfo2();
        var extra = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["mallinfo2_arena"] = mi.Arena,
            ["mallinfo2_hblkhd"] = mi.Hblkhd,
            ["mallinfo2_uordblks"] = mi.Uordblks,
            ["mallinfo2_fordblks"] = mi.Fordblks,
            ["main_heap_bytes"] = final.MainHeapBytes,
            ["arena_heap_bytes"] = final.ArenaHeapBytes,
            ["mmapped_bytes"] = final.MmappedBytes,
            ["samples"] = points.Count,
            ["elapsed_ns"] = elapsedNs,
            ["stream_wait_ns"] = streamWaitNs,
            ["timed_jit_methods"] = jitMethods,
            ["timed_jit_ns"] = jitNs,
        };
        AddressParity? parity = check is null ? null : FinishCheck(check, trace);
        if (parity is not null)
        {
            // In summary.json too: the trace's own calls compared with the recording, and how many matched.
            extra["parity_identical"] = parity.Report.Identical;
            extra["parity_allocations"] = parity.Report.Allocations;
        }

        var last = new SeriesPoint(trace.OpCount, trace.FinalLiveBytes, final.CommittedBytes, final.ResidentBytes)
        {
            TimestampNs = trace.FinalTimestampNs,
            AddressSpaceBytes = final.AddressSpaceBytes,
            AllocatorBytes = final.TotalBytes,
        };
        var measured = new EngineMeasurement
        {
            Calls = calls,
            WallNs = wallNs,
            SamplingNs = samplingNs,
            FootprintSource = FootprintSource,
            RssSource = RssSource,
            AddressSpaceSource = AddressSpaceSource,
            AllocatorBytesSource = AllocatorStatsSource,
            LatencyClock = timer?.Description ?? ResultBuilder.NoTimingClock,
        };
        (long firstCount, double firstMax) = FirstCalls(firstCalls);
        return ResultBuilder.Build("sim", trace, points, last, latency, measured, extra) with
        {
            Parity = parity,
            WarmupNs = warmUp?.ElapsedNs,
            FirstCalls = timer is null ? 0 : firstCount,
            FirstCallMaxNs = timer is null || firstCount == 0 ? null : firstMax,
            Gc = gc,
        };
    }

    /// <summary>How many calls a histogram holds and the largest, in ns (bucket resolution).</summary>
    private static (long Count, double MaxNs) FirstCalls(LatencyHistogram histogram)
    {
        long count = 0;
        double max = 0;
        for (int kind = 1; kind < LatencyHistogram.Kinds; kind++)
        {
            if (histogram.Summarize(kind) is { } s)
            {
                count += s.Count;
                max = Math.Max(max, s.Max);
            }
        }

        return (count, max);
    }

    /// <summary>The address check's outcome; frees and reallocs the preparation skipped (unknown pointers, double frees) are counted there.</summary>
    private static AddressParity FinishCheck(AddressCheck check, PreparedTrace trace) =>
        check.Finish(
            trace.EventCount - trace.PrefixEventCount,
            trace.IssueCountsByKind[(int)TraceIssueKind.UnknownPointer] + trace.IssueCountsByKind[(int)TraceIssueKind.DoubleFree],
            trace.IssueCountsByKind[(int)TraceIssueKind.EventAfterThreadExit] + trace.IssueCountsByKind[(int)TraceIssueKind.TooManyThreads],
            trace.PrefixEventCount);

    /// <summary>
    /// Runs at most <paramref name="limit"/> ops from <paramref name="thread"/>'s cursor on, following the global order, as
    /// the engine's loop does without a timer, an address check or an address log: each op's block prefetched ahead, the
    /// op executed, calls counted. Stops before an op the loop must see itself (a fork, a sampled op, a streamed op not yet
    /// written) and after the last op of the trace (<paramref name="ended"/>). Returns the ops run; <paramref name="thread"/>
    /// is the thread of the next op (of the op that threw, when the model aborts).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static long RunPlain(Ptmalloc model, PreparedFile file, long[] cursor, long[] opEnd, ulong[] slots, bool streamed,
        ref int thread, long limit, ref long calls, ref bool ended)
    {
        int t = thread;
        long run = 0, called = 0;
        while (run < limit)
        {
            long index = cursor[t];
            if (streamed && !file.IsWritten(index))
            {
                break;
            }

            ref readonly PreparedOp op = ref file.Op(index);
            if (op.Kind == PreparedKind.Fork || (op.Flags & OpMarks.Sample) != 0)
            {
                break;
            }

            cursor[t] = index + 1;
            PrefetchAhead(model, file, index, opEnd[t], streamed, slots);
            thread = t;
            // The two commonest ops exactly as Execute runs them untimed, without its call and its jump table.
            if (op.Kind == PreparedKind.Free)
            {
                model.Free(t, (op.Flags & OpMarks.NullPtr) != 0 ? 0 : slots[op.Slot]);
                slots[op.Slot] = 0;
                called++;
            }
            else if (op.Kind == PreparedKind.Malloc && (op.Flags & (OpMarks.ExpectFail | OpMarks.Release)) == 0)
            {
                ulong p = model.Malloc(t, op.Size);
                if (p != 0)
                {
                    model.TouchReturned(p);
                    slots[op.Slot] = p;
                }

                called++;
            }
            else if (Execute<StopwatchTicks>(model, t, in op, slots, null, out _))
            {
                called++;
            }

            run++;
            if (op.NextThread == PreparedFormat.NoThread)
            {
                ended = true;
                break;
            }

            t = op.NextThread;
        }

        thread = t;
        calls += called;
        return run;
    }

    /// <summary>
    /// How many ops of its thread's stream the replay looks ahead for a free or realloc whose block it prefetches
    /// (<see cref="Ptmalloc.PrefetchBlock"/>): far enough for the line to arrive from memory while the ops in between run.
    /// The slot table's entry of that block is prefetched as far again ahead, so that it is in cache when it is read.
    /// </summary>
    internal const int PrefetchDistance = 8;

    /// <summary>
    /// Looks ahead in the stream of the op at <paramref name="index"/> (its thread's ops end at <paramref name="end"/>):
    /// for a free or realloc <see cref="PrefetchDistance"/> ops ahead, prefetches its block's chunk header from the
    /// model's memory; for one twice as far ahead, the slot table's entry that holds its block. Only hints: a slot may
    /// change before then (a block allocated in between), which costs a useless prefetch and nothing else. A streamed op
    /// not yet written is skipped. <paramref name="slots"/> is pinned.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void PrefetchAhead(Ptmalloc model, PreparedFile file, long index, long end, bool streamed, ulong[] slots)
    {
        long far = index + (2 * PrefetchDistance);
        if (far < end && (!streamed || file.IsWritten(far)))
        {
            ref readonly PreparedOp next = ref file.Op(far);
            if (ReleasesBlock(next.Kind) && next.Slot < (uint)slots.Length && Sse.IsSupported)
            {
                Sse.Prefetch0(Unsafe.AsPointer(ref slots[next.Slot]));
            }
        }

        long near = index + PrefetchDistance;
        if (near < end && (!streamed || file.IsWritten(near)))
        {
            ref readonly PreparedOp next = ref file.Op(near);
            if (ReleasesBlock(next.Kind) && next.Slot < (uint)slots.Length)
            {
                model.PrefetchBlock(slots[next.Slot], next.Size);
            }
        }
    }

    /// <summary>Whether an op of this kind frees or reallocates the block in its slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool ReleasesBlock(PreparedKind kind) =>
        kind is PreparedKind.Free or PreparedKind.Realloc or PreparedKind.ReallocArray;

    /// <summary>
    /// Executes one op on the model; returns true for a malloc-family call, timed with
    /// <typeparamref name="TClock"/> (one compiled copy per clock), and sets <paramref name="p"/> to what the call
    /// returned (0 for a free or a failure). <paramref name="latency"/> is null under --no-timing: the clock is then not read at all.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool Execute<TClock>(Ptmalloc model, int thread, in PreparedOp op, ulong[] slots, LatencyHistogram? latency, out ulong p)
        where TClock : struct, ITickSource
    {
        p = 0;
        long t0 = latency is null ? 0 : TClock.Now();
        switch (op.Kind)
        {
            case PreparedKind.Malloc: p = model.Malloc(thread, op.Size); break;
            case PreparedKind.Calloc: p = model.Calloc(thread, op.Arg, op.Size); break;
            case PreparedKind.Realloc: p = model.Realloc(thread, slots[op.Slot], op.Size); break;
            case PreparedKind.ReallocArray: p = model.ReallocArray(thread, slots[op.Slot], op.Arg, op.Size); break;
            case PreparedKind.Free:
                model.Free(thread, (op.Flags & OpMarks.NullPtr) != 0 ? 0 : slots[op.Slot]);
                break;
            case PreparedKind.Memalign: p = model.Memalign(thread, op.Arg, op.Size); break;
            case PreparedKind.PosixMemalign:
                if (model.PosixMemalign(thread, op.Arg, op.Size, out p) != 0)
                {
                    p = 0;
                }

                break;
            case PreparedKind.AlignedAlloc: p = model.AlignedAlloc(thread, op.Arg, op.Size); break;
            case PreparedKind.Valloc: p = model.Valloc(thread, op.Size); break;
            case PreparedKind.Pvalloc: p = model.Pvalloc(thread, op.Size); break;
            case PreparedKind.ThreadExit:
                model.ThreadExit(thread);
                return false;
            case PreparedKind.Mallopt:
                model.Mallopt(unchecked((int)(long)op.Arg), unchecked((int)(long)op.Size));
                return false;
            case PreparedKind.MallocTrim:
                model.MallocTrim(thread, op.Size);
                return false;
            default:
                return false;
        }

        if (latency is not null)
        {
            long t1 = TClock.Now();
            // rdtsc is not serializing and the thread may move to another CPU: a difference below 0 counts as 0.
            latency.Record((int)op.Kind, op.RequestedBytes, (ulong)Math.Max(t1 - t0, 0));
        }

        // The replay's touch of the returned block, outside the timed call (as the native replayer does it).
        if (p != 0 && op.Kind != PreparedKind.Free)
        {
            model.TouchReturned(p);
        }

        if (op.Kind == PreparedKind.Free)
        {
            slots[op.Slot] = 0;
        }
        else if ((op.Flags & (OpMarks.ExpectFail | OpMarks.Release)) != 0)
        {
            if (p != 0)
            {
                model.Free(thread, p);
            }

            if ((op.Flags & OpMarks.Release) != 0)
            {
                slots[op.Slot] = 0;
            }
        }
        else if (p != 0)
        {
            slots[op.Slot] = p;
        }

        return true;
    }
}
