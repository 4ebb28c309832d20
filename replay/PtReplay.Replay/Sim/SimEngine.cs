using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
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
/// </summary>
public static class SimEngine
{
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static EngineResult Run(PreparedTrace trace, TraceHeader header, ReplayOptions options, string? tunables, ModelTimer? timer)
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

        var model = new Ptmalloc(ModelSetup.Options(header, resolved, options.Touch));

        if (options.SimPreambleBytes != 0)
        {
            if (options.SimPreambleBytes < 32 || options.SimPreambleBytes % 16 != 0)
            {
                return EngineResult.Failed("sim", string.Create(CultureInfo.InvariantCulture,
                    $"preamble of {options.SimPreambleBytes} bytes is not a chunk size (a multiple of 16, at least 32)"));
            }

            // A request of n - 8 bytes is exactly one n-byte chunk (8 bytes of size header).
            model.Malloc(0, options.SimPreambleBytes - 8);
        }

        using var file = new PreparedFile(trace.Path);
        AddressCheck? check = null;
        if (options.CheckAddresses)
        {
            if (!file.HasRecordedAddresses)
            {
                return EngineResult.Failed("sim", "the address check needs the recorded addresses in the prepared trace (PreparationOptions.RecordedAddresses)");
            }

            check = new AddressCheck(model, header.Brk0);
        }

        var slots = new ulong[file.Header.SlotCount];
        var sampleCursor = new long[file.Header.ThreadCount];
        for (int t = 0; t < sampleCursor.Length; t++)
        {
            sampleCursor[t] = (long)file.Thread(t).SampleStart;
        }

        var latency = new LatencyHistogram(timer?.TicksPerNs ?? Stopwatch.Frequency / 1e9);
        LatencyHistogram? timed = timer is null ? null : latency;
        bool tsc = timer?.Kind == TimerKind.Tsc;
        var points = new List<SeriesPoint>(trace.Samples.Count);
        long samplingTicks = 0;
        long calls = 0, done = 0;
        long progressStep = Math.Max(1, trace.OpCount / 100);
        long start = Stopwatch.GetTimestamp();

        // The walk of PreparedFile.GlobalOrder(), written out: an iterator's MoveNext cannot be marked
        // AggressiveOptimization, and under tiered compilation it would run unoptimized code for the
        // first few million ops of a replay.
        var cursor = new long[file.Header.ThreadCount];
        for (int t = 0; t < cursor.Length; t++)
        {
            cursor[t] = (long)file.Thread(t).OpStart;
        }

        int thread = (int)file.Header.FirstThread;
        for (ulong n = 0; n < file.Header.OpCount; n++)
        {
            long index = cursor[thread]++;
            ref readonly PreparedOp op = ref file.Op(index);
            if (op.Kind == PreparedKind.Fork)
            {
                // A forked child's replay: the ops so far rebuilt its parent's heap; measure the child from here.
                model.ForkChild(thread);
                check?.ForkChild();
                latency = new LatencyHistogram(timer?.TicksPerNs ?? Stopwatch.Frequency / 1e9);
                timed = timer is null ? null : latency;
                calls = 0;
                points.Clear();
                samplingTicks = 0;
                start = Stopwatch.GetTimestamp();
            }

            try
            {
                bool isCall = tsc
                    ? Execute<TscTicks>(model, thread, in op, slots, timed, out ulong result)
                    : Execute<StopwatchTicks>(model, thread, in op, slots, timed, out result);
                if (isCall)
                {
                    calls++;
                    if (check is not null && op.Kind != PreparedKind.Free)
                    {
                        check.Compare(file.EventIndex(index), in op, thread, file.RecordedAddress(index), result);
                    }
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
                    AddressSpaceBytes = fp.AddressSpaceBytes,
                    AllocatorBytes = fp.TotalBytes,
                });
                samplingTicks += Stopwatch.GetTimestamp() - s0;
            }

            if (++done % progressStep == 0)
            {
                options.Progress?.Invoke("sim", (double)done / trace.OpCount);
            }

            if (op.NextThread == PreparedFormat.NoThread)
            {
                break;
            }

            thread = op.NextThread;
        }

        long elapsedNs = (long)Stopwatch.GetElapsedTime(start).TotalNanoseconds;
        long samplingNs = (long)(samplingTicks * (1e9 / Stopwatch.Frequency));
        long wallNs = Math.Max(0, elapsedNs - samplingNs);
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
        return ResultBuilder.Build("sim", trace, points, last, latency, measured, extra) with { Parity = parity };
    }

    /// <summary>The address check's outcome; frees and reallocs the preparation skipped (unknown pointers, double frees) are counted there.</summary>
    private static AddressParity FinishCheck(AddressCheck check, PreparedTrace trace) =>
        check.Finish(
            trace.EventCount - trace.PrefixEventCount,
            trace.IssueCountsByKind[(int)TraceIssueKind.UnknownPointer] + trace.IssueCountsByKind[(int)TraceIssueKind.DoubleFree],
            trace.IssueCountsByKind[(int)TraceIssueKind.EventAfterThreadExit] + trace.IssueCountsByKind[(int)TraceIssueKind.TooManyThreads],
            trace.PrefixEventCount);

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
            default:
                return false;
        }

        if (latency is not null)
        {
            long t1 = TClock.Now();
            // rdtsc is not serializing and the thread may move to another CPU: a difference below 0 counts as 0.
            latency.Record((int)op.Kind, op.RequestedBytes, (ulong)Math.Max(t1 - t0, 0));
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
