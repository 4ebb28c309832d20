namespace PtReplay.Traces.Import;

/// <summary>
/// Converts a trace of LTTng-UST's libc wrapper (a CTF trace folder, or babeltrace2's text of one) into
/// PtReplay traces (what `ptreplay import-lttng` does).
/// <para>Mapping: each lttng_ust_libc event becomes the call of the same name with the same arguments and
/// result (posix_memalign: status = its result, result = out_ptr when it succeeded, NULL otherwise). The
/// thread is the vtid context (without it: one thread, tid = vpid or 1); the process is the vpid context:
/// the first process seen goes to OUT, every other one to OUT.&lt;vpid&gt; (as the recorder names child
/// traces); without vpid everything is one process. Timestamps are ns since the process's first event,
/// on LTTng's monotonic clock (babeltrace2 prints it shifted to the Unix epoch by the trace's clock
/// offset; header fields 11 and 12 both hold the first event's epoch time).</para>
/// <para>Lost: aligned_alloc, valloc, pvalloc, reallocarray (the wrapper has no event for them), every call
/// before the process registered with the session daemon and after the wrapper's destructor, calls made
/// while another traced call is running in the same thread (the wrapper traces only the outermost), thread
/// start/exit and fork/exec markers, errno of failed calls, glibc version, brk0, page size, CPUs, argv,
/// and the events the tracer discarded when its buffers were full (reported, not hidden).</para>
/// </summary>
public static class LttngImporter
{
    /// <summary>The tid given to events when the trace has neither vtid nor vpid context.</summary>
    public const int FallbackTid = 1;

    /// <summary>Header field 13 of imported traces.</summary>
    public const string ClockName = "LTTng monotonic clock + trace clock offset (ns since the Unix epoch, via babeltrace2)";

    /// <summary>Header field 1 of imported traces.</summary>
    public const string RecorderName = "ptreplay import-lttng";

    /// <summary>
    /// Imports <paramref name="input"/>: a folder holding a CTF trace LTTng wrote (searched recursively for its
    /// metadata files; kernel traces are left out), or a text file babeltrace2 printed.
    /// </summary>
    /// <param name="input">The trace folder (e.g. what `lttng create --output` named), or a babeltrace2 text file.</param>
    /// <param name="outTrace">The trace to write for the first process; other processes go to OUT.&lt;vpid&gt;.</param>
    /// <param name="babeltrace">babeltrace2's path, or null to look it up on PATH.</param>
    /// <param name="progress">Told the number of events imported so far, every 65,536 events.</param>
    public static LttngImportResult Import(string input, string outTrace, string? babeltrace = null,
        IProgress<long>? progress = null, TraceWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(outTrace);
        if (File.Exists(input))
        {
            using var text = new StreamReader(input);
            return ImportText(text, input, outTrace, progress, options);
        }

        if (!Directory.Exists(input))
        {
            throw new LttngImportException($"{input}: no such folder (expected the folder LTTng wrote the trace to, e.g. `lttng create --output=DIR`)");
        }

        IReadOnlyList<string> folders = FindTraceFolders(input);
        using BabeltraceRun run = BabeltraceRun.Start(folders, input, babeltrace);
        LttngImportResult result;
        try
        {
            result = Convert(run.Output, input, outTrace, progress, options, requireEvents: false);
        }
        catch (LttngFormatException) when (run.FailedOnItsOwn() is { } failure)
        {
            // A line babeltrace2 cut short when it failed: its own error says more.
            throw failure;
        }

        long discarded, lost;
        try
        {
            (discarded, lost) = run.Finish();
        }
        catch (LttngImportException)
        {
            Discard(result);   // babeltrace2 stopped early: what it printed is not the whole trace
            throw;
        }

        if (result.Processes.Count == 0)
        {
            throw NoEvents(input, result.OtherEvents);
        }

        result = result with { DiscardedEvents = discarded, LostPackets = lost };

        return result;
    }

    /// <summary>Imports babeltrace2's text (its default pretty output of an LTTng trace); <paramref name="name"/> names it in errors.</summary>
    public static LttngImportResult ImportText(TextReader text, string name, string outTrace,
        IProgress<long>? progress = null, TraceWriterOptions? options = null) =>
        Convert(text, name, outTrace, progress, options, requireEvents: true);

    /// <summary>
    /// The CTF trace folders under <paramref name="root"/>: every folder holding a file named "metadata",
    /// except those under a "kernel" folder (LTTng's kernel domain). Throws when there is none.
    /// </summary>
    public static IReadOnlyList<string> FindTraceFolders(string root)
    {
        List<string> folders;
        try
        {
            folders = [.. Directory.EnumerateFiles(root, "metadata", SearchOption.AllDirectories)
                .Select(f => Path.GetDirectoryName(Path.GetFullPath(f))!)
                .Where(d => !Path.GetRelativePath(Path.GetFullPath(root), d).Split(Path.DirectorySeparatorChar).Contains("kernel"))
                .Order(StringComparer.Ordinal)];
        }
        catch (UnauthorizedAccessException e)
        {
            throw new LttngImportException($"{root}: cannot be searched for a CTF trace: {e.Message}", e);
        }

        if (folders.Count == 0)
        {
            throw new LttngImportException(
                $"{root}: no user-space CTF trace in it (no 'metadata' file in any folder below it, kernel traces left out); " +
                "pass the folder `lttng create --output=DIR` named (or that `lttng create` printed as \"Traces will be output to\")");
        }

        return folders;
    }

    private static LttngImportResult Convert(TextReader text, string name, string outTrace,
        IProgress<long>? progress, TraceWriterOptions? options, bool requireEvents)
    {
        var parser = new BabeltraceTextParser(name);
        var processes = new List<ProcessWriter>();
        var byPid = new Dictionary<int, ProcessWriter>();
        bool hasVtid = false, hasVpid = false;
        long total = 0;
        bool done = false;
        try
        {
            foreach (LttngLibcRecord r in parser.Parse(text))
            {
                if (!byPid.TryGetValue(r.Vpid, out ProcessWriter? process))
                {
                    string path = processes.Count == 0 ? outTrace : $"{outTrace}.{r.Vpid}";
                    process = new ProcessWriter(path, r, name, options);
                    processes.Add(process);
                    byPid.Add(r.Vpid, process);
                }

                hasVtid |= r.Vtid > 0;
                hasVpid |= r.Vpid > 0;
                process.Write(r);
                if ((++total & 0xFFFF) == 0)
                {
                    progress?.Report(total);
                }
            }

            if (processes.Count == 0 && requireEvents)
            {
                throw NoEvents(name, parser.OtherEvents);
            }

            foreach (ProcessWriter p in processes)
            {
                p.Complete();
            }

            done = true;
        }
        finally
        {
            if (!done)
            {
                foreach (ProcessWriter p in processes)
                {
                    p.Abandon();
                }
            }
        }

        progress?.Report(total);
        return new LttngImportResult([.. processes.Select(p => p.Result)], parser.OtherEvents, 0, 0, hasVtid, hasVpid);
    }

    private static LttngImportException NoEvents(string name, long otherEvents) => new(
        $"{name}: no lttng_ust_libc events ({otherEvents:N0} events of other providers). Record them with " +
        "`lttng enable-event -u 'lttng_ust_libc:*'` and run the program with LD_PRELOAD=liblttng-ust-libc-wrapper.so " +
        "while the session is started (see `ptreplay import-lttng --help`)");

    private static void Discard(LttngImportResult result)
    {
        foreach (LttngImportedProcess p in result.Processes)
        {
            File.Delete(p.Path);
        }
    }

    /// <summary>The PtReplay event for one libc event (thread index and timestamp filled in by the caller).</summary>
    public static AllocEvent ToEvent(in LttngLibcRecord r) => r.Kind switch
    {
        LttngLibcEventKind.Malloc => new AllocEvent { Kind = EventKind.Malloc, Size = r.Size, Count = 1, Result = r.Result },
        LttngLibcEventKind.Calloc => new AllocEvent { Kind = EventKind.Calloc, Size = r.Size, Count = r.Count, Result = r.Result },
        LttngLibcEventKind.Realloc => new AllocEvent { Kind = EventKind.Realloc, Ptr = r.Ptr, Size = r.Size, Count = 1, Result = r.Result },
        LttngLibcEventKind.Free => new AllocEvent { Kind = EventKind.Free, Ptr = r.Ptr },
        LttngLibcEventKind.Memalign => new AllocEvent { Kind = EventKind.Memalign, Alignment = r.Alignment, Size = r.Size, Count = 1, Result = r.Result },
        LttngLibcEventKind.PosixMemalign => new AllocEvent
        {
            Kind = EventKind.PosixMemalign, Alignment = r.Alignment, Size = r.Size, Count = 1,
            // out_ptr is *memptr after the call: glibc leaves it untouched when it fails.
            Result = r.Status == 0 ? r.Result : 0, Status = r.Status,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(r), r.Kind, "not a libc call"),
    };

    /// <summary>The trace of one process: written to OUT.tmp, moved to OUT when complete.</summary>
    private sealed class ProcessWriter
    {
        private readonly string _path;
        private readonly string _temp;
        private readonly TraceWriter _writer;
        private readonly Dictionary<int, int> _threads = [];
        private readonly long _start;
        private readonly int _pid;
        private long _events;

        public ProcessWriter(string path, in LttngLibcRecord first, string source, TraceWriterOptions? options)
        {
            _path = path;
            _temp = path + ".tmp";
            _start = first.TimestampNs;
            _pid = Math.Max(first.Vpid, 0);
            var header = new TraceHeader
            {
                RecorderVersion = RecorderName,
                ExecutablePath = first.Procname ?? "",
                Argv = [Path.GetFullPath(source)],
                Pid = _pid,
                StartRealtimeNs = first.TimestampNs,
                StartClockNs = first.TimestampNs,
                ClockName = ClockName,
                ClockResolutionNs = 1,
            };
            _writer = TraceWriter.Create(_temp, header, options);
        }

        public LttngImportedProcess Result => new(_path, _pid, _events, _threads.Count);

        public void Write(in LttngLibcRecord r)
        {
            int tid = r.Vtid > 0 ? r.Vtid : _pid > 0 ? _pid : FallbackTid;
            if (!_threads.TryGetValue(tid, out int index))
            {
                index = _threads.Count;
                _threads.Add(tid, index);
                _writer.DeclareThread(index, tid);
            }

            AllocEvent e = ToEvent(r);
            e.Thread = index;
            e.Timestamp = r.TimestampNs - _start;
            _writer.Write(e);
            _events++;
        }

        public void Complete()
        {
            _writer.Complete();
            _writer.Dispose();
            File.Move(_temp, _path, overwrite: true);
        }

        public void Abandon()
        {
            _writer.Dispose();
            File.Delete(_temp);
        }
    }
}
