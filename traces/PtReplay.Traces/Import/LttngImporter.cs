namespace PtReplay.Traces.Import;

/// <summary>
/// Converts a trace of LTTng-UST's libc wrapper (a folder holding CTF traces) into PtReplay traces (what
/// `ptreplay import-lttng` does). The CTF is read with TraceEvent's CTF reader (<see cref="LttngCtfReader"/>);
/// nothing but .NET is needed to import.
/// <para>Mapping: each lttng_ust_libc event becomes the call of the same name with the same arguments and
/// result (posix_memalign: status = its result, result = out_ptr when it succeeded, NULL otherwise). The
/// thread is the vtid context (without it: one thread, tid = vpid or 1); the process is the vpid context:
/// the process with the earliest event goes to OUT, every other one to OUT.&lt;vpid&gt; (as the recorder names
/// child traces); without vpid everything is one process. Timestamps are ns since the process's first event,
/// on LTTng's monotonic clock (shifted to the Unix epoch by the trace's clock offset; header fields 11 and 12
/// both hold the first event's epoch time).</para>
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
    public const string ClockName = "LTTng monotonic clock + trace clock offset (ns since the Unix epoch)";

    /// <summary>Header field 1 of imported traces.</summary>
    public const string RecorderName = "ptreplay import-lttng";

    /// <summary>The allocating calls of glibc that LTTng-UST's libc wrapper has no event for.</summary>
    public static readonly IReadOnlyList<string> UntracedCalls = ["aligned_alloc", "valloc", "pvalloc", "reallocarray"];

    /// <summary>
    /// Imports <paramref name="input"/>: a folder holding a CTF trace LTTng wrote (searched recursively for its
    /// metadata files; kernel traces are left out).
    /// </summary>
    /// <param name="input">The trace folder (e.g. what `lttng create --output` named).</param>
    /// <param name="outTrace">The trace to write for the first process; other processes go to OUT.&lt;vpid&gt;.</param>
    /// <param name="progress">Told the number of events imported so far, every 65,536 events.</param>
    /// <param name="options">How to write the traces (block size, compression).</param>
    public static LttngImportResult Import(string input, string outTrace, IProgress<long>? progress = null, TraceWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(outTrace);
        if (File.Exists(input))
        {
            throw new LttngImportException($"{input}: a file, not a folder (expected the folder LTTng wrote the trace to, e.g. `lttng create --output=DIR`)");
        }

        if (!Directory.Exists(input))
        {
            throw new LttngImportException($"{input}: no such folder (expected the folder LTTng wrote the trace to, e.g. `lttng create --output=DIR`)");
        }

        IReadOnlyList<string> folders = FindTraceFolders(input);
        var set = new ProcessSet(outTrace, input, options, progress);
        long other = 0, discarded = 0, lost = 0;
        try
        {
            foreach (string folder in folders)
            {
                LttngCtfFolderStats stats = LttngCtfReader.Read(folder, set.Add);
                other += stats.OtherEvents;
                discarded += stats.DiscardedEvents;
                lost += stats.LostPackets;
            }

            if (set.IsEmpty)
            {
                throw NoEvents(input, other);
            }

            return set.Complete(other, discarded, lost);
        }
        finally
        {
            set.AbandonUnlessComplete();
        }
    }

    /// <summary>
    /// Writes already-decoded libc events (in time order) the way <see cref="Import"/> does; <paramref name="name"/>
    /// names the source in the header and errors. Used to compare readers of the same trace.
    /// </summary>
    internal static LttngImportResult ImportRecords(IEnumerable<LttngLibcRecord> records, string name, string outTrace,
        long otherEvents = 0, TraceWriterOptions? options = null)
    {
        var set = new ProcessSet(outTrace, name, options, null);
        try
        {
            foreach (LttngLibcRecord r in records)
            {
                set.Add(r);
            }

            if (set.IsEmpty)
            {
                throw NoEvents(name, otherEvents);
            }

            return set.Complete(otherEvents, 0, 0);
        }
        finally
        {
            set.AbandonUnlessComplete();
        }
    }

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
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
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

    private static LttngImportException NoEvents(string name, long otherEvents) => new(
        $"{name}: no lttng_ust_libc events ({otherEvents:N0} events of other providers). Record them with " +
        "`lttng enable-event -u 'lttng_ust_libc:*'` and run the program with LD_PRELOAD=liblttng-ust-libc-wrapper.so " +
        "while the session is started (see `ptreplay import-lttng --help`)");

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

    /// <summary>
    /// The traces of all processes of one import. Each process is written to a temporary file as its events come
    /// (trace folders are read one after another, so processes of different folders do not interleave); at the
    /// end the process with the earliest first event is moved to OUT, the others to OUT.&lt;vpid&gt;.
    /// </summary>
    private sealed class ProcessSet(string outTrace, string source, TraceWriterOptions? options, IProgress<long>? progress)
    {
        private readonly List<ProcessWriter> _processes = [];
        private readonly Dictionary<int, ProcessWriter> _byPid = [];
        private bool _hasVtid, _hasVpid, _complete;
        private long _total;

        public bool IsEmpty => _processes.Count == 0;

        public void Add(LttngLibcRecord r)
        {
            if (!_byPid.TryGetValue(r.Vpid, out ProcessWriter? process))
            {
                process = new ProcessWriter($"{outTrace}.{_processes.Count}.tmp", r, source, options);
                _processes.Add(process);
                _byPid.Add(r.Vpid, process);
            }

            _hasVtid |= r.Vtid > 0;
            _hasVpid |= r.Vpid > 0;
            process.Write(r);
            if ((++_total & 0xFFFF) == 0)
            {
                progress?.Report(_total);
            }
        }

        public LttngImportResult Complete(long otherEvents, long discarded, long lost)
        {
            // Stable: equal first times keep the order the processes were seen in.
            ProcessWriter[] ordered = [.. _processes.OrderBy(p => p.Start)];
            var results = new List<LttngImportedProcess>(ordered.Length);
            for (int i = 0; i < ordered.Length; i++)
            {
                string path = i == 0 ? outTrace : $"{outTrace}.{ordered[i].Pid}";
                results.Add(ordered[i].Complete(path));
            }

            _complete = true;
            progress?.Report(_total);
            return new LttngImportResult(results, otherEvents, discarded, lost, _hasVtid, _hasVpid);
        }

        public void AbandonUnlessComplete()
        {
            if (!_complete)
            {
                foreach (ProcessWriter p in _processes)
                {
                    p.Abandon();
                }
            }
        }
    }

    /// <summary>The trace of one process: written to a temporary file, moved to its name when complete.</summary>
    private sealed class ProcessWriter
    {
        private readonly string _temp;
        private readonly TraceWriter _writer;
        private readonly Dictionary<int, int> _threads = [];
        private long _events;
        private bool _done;

        public ProcessWriter(string temp, in LttngLibcRecord first, string source, TraceWriterOptions? options)
        {
            _temp = temp;
            Start = first.TimestampNs;
            Pid = Math.Max(first.Vpid, 0);
            var header = new TraceHeader
            {
                RecorderVersion = RecorderName,
                ExecutablePath = first.Procname ?? "",
                Argv = [Path.GetFullPath(source)],
                Pid = Pid,
                StartRealtimeNs = first.TimestampNs,
                StartClockNs = first.TimestampNs,
                ClockName = ClockName,
                ClockResolutionNs = 1,
            };
            _writer = TraceWriter.Create(_temp, header, options);
        }

        /// <summary>The first event's time (ns since the Unix epoch).</summary>
        public long Start { get; }

        /// <summary>The vpid (0 without vpid context).</summary>
        public int Pid { get; }

        public void Write(in LttngLibcRecord r)
        {
            int tid = r.Vtid > 0 ? r.Vtid : Pid > 0 ? Pid : FallbackTid;
            if (!_threads.TryGetValue(tid, out int index))
            {
                index = _threads.Count;
                _threads.Add(tid, index);
                _writer.DeclareThread(index, tid);
            }

            AllocEvent e = ToEvent(r);
            e.Thread = index;
            e.Timestamp = r.TimestampNs - Start;
            _writer.Write(e);
            _events++;
        }

        public LttngImportedProcess Complete(string path)
        {
            _writer.Complete();
            _writer.Dispose();
            File.Move(_temp, path, overwrite: true);
            _done = true;
            return new LttngImportedProcess(path, Pid, _events, _threads.Count);
        }

        public void Abandon()
        {
            if (!_done)
            {
                _writer.Dispose();
                File.Delete(_temp);
            }
        }
    }
}
