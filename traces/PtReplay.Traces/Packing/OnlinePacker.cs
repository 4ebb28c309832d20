using PtReplay.Traces.Recording;

namespace PtReplay.Traces.Packing;

/// <summary>How one trace of a recording was packed (<see cref="OnlinePacker.Finish"/>).</summary>
/// <param name="Path">The trace (packed in place).</param>
/// <param name="Result">What packing produced.</param>
/// <param name="InputBytes">Size of the raw trace.</param>
/// <param name="BytesAfterExit">Raw bytes packed after the program had exited (0 when the online packer kept up).</param>
/// <param name="Note">Why this trace was packed after exit from its start (the online packer failed, or the recorder rewrote blocks it had packed); null when it was not.</param>
public sealed record PackedTrace(string Path, PackResult Result, long InputBytes, long BytesAfterExit, string? Note);

/// <summary>
/// Packs a recording while it runs, in the process that runs `record` (never in the traced program, which this
/// must not change): a background thread tails the raw trace files, <c>OUT</c> and each <c>OUT.&lt;pid&gt;[.&lt;n&gt;]</c> as it
/// appears, and recompresses each block as soon as it is whole and its CRC matches (<see cref="BlockRepacker"/>),
/// on the other CPU. The raw files are never touched until the end, so a packer that falls behind or fails loses
/// nothing: <see cref="Finish"/> packs what is left after the program exits (everything, if the packer failed),
/// and the packed files are what <see cref="TracePacker.Repack"/> of the finished raw files gives.
/// <para>Scheduling: the thread runs under SCHED_IDLE (<see cref="Priority"/>), so it takes only CPU time nothing else
/// wants and never slows the traced program, whatever else runs on the machine. A thread so scheduled can wait long for
/// a CPU on a busy machine, so nobody waits for it: it changes its state (output, repackers, failure) only under
/// <c>_gate</c> and only while <c>_stop</c> is false, and <see cref="Finish"/> sets <c>_stop</c>, then takes
/// <c>_gate</c> once and goes on with what was committed (a block being compressed then is dropped and packed again).
/// The thread holds <c>_gate</c> only for a few microseconds of work at a time, but it can lose its CPU inside, and
/// under SCHED_IDLE get it back only when nothing else wants one: so <see cref="Finish"/> waits at most
/// <see cref="GateWait"/> for it, and otherwise abandons everything the thread did (<c>_abandoned</c>: nothing the
/// thread may still touch, its repackers and their files, is used or removed any more) and packs every trace after
/// exit from its start, into new files. Nothing the main thread reads (<see cref="Failure"/>, <see cref="Priority"/>)
/// needs the gate.</para>
/// <para>Test hook: <c>PTREPLAY_ONLINE_PACK=stall</c> makes the background thread copy nothing (as a packer that
/// cannot keep up), <c>fail</c> makes it fail after its first block (as an I/O error would), <c>hold</c> makes it hold
/// its first compressed block uncommitted until the packer is disposed (as a thread that gets no CPU time would),
/// <c>hold-gate</c> makes it hold its first block as it commits it, inside the gate (as a thread that lost its CPU
/// there would), <c>off</c> disables it.</para>
/// </summary>
public sealed partial class OnlinePacker : IDisposable
{
    /// <summary>The packer thread's nice value where SCHED_IDLE is refused: it then yields to the program when they compete for a CPU.</summary>
    public const int Nice = 10;

    /// <summary>The test hook's environment variable.</summary>
    public const string ModeVariable = "PTREPLAY_ONLINE_PACK";

    private readonly string _tracePath;
    private readonly int _level;
    private readonly string _mode;
    private readonly Dictionary<string, BlockRepacker> _repackers = [];
    private readonly Thread? _thread;
    private readonly object _gate = new();
    private volatile bool _stop;
    private volatile bool _stopped;
    private volatile bool _abandoned;
    private volatile Exception? _failure;
    private volatile string _priority = "not started";
    private int _tid;
    private readonly HashSet<string> _known = [];            // the background thread's own: traces it added (Add)
    private DateTime _listedChange = DateTime.MinValue;       // the folder's modification time at the last listing (Discover)
    private DateTime _listedAt = DateTime.MinValue;           // when that listing started
    private int _listings;
    private int _looks;
    private int _knownCount;
    private readonly object _hold = new();
    private bool _held;
    private bool _released;

    private OnlinePacker(string tracePath, int level, string? mode)
    {
        _tracePath = Path.GetFullPath(tracePath);
        _level = level;
        _mode = mode ?? Environment.GetEnvironmentVariable(ModeVariable) ?? "";
        if (_mode != "off")
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = "ptreplay online packer" };
            _thread.Start();
        }
    }

    /// <summary>
    /// Starts packing the recording whose started program writes <paramref name="tracePath"/> (start it once the
    /// program runs: <see cref="RecordingOptions.Started"/>). <paramref name="mode"/>: the test hook's value
    /// (null: <see cref="ModeVariable"/>'s).
    /// </summary>
    public static OnlinePacker Start(string tracePath, int level = TracePacker.RepackLevel, string? mode = null) => new(tracePath, level, mode);

    /// <summary>The error that stopped the background thread, or null.</summary>
    public Exception? Failure => _failure;

    /// <summary>
    /// How long <see cref="Finish"/> waits for the background thread to leave the gate before it packs every trace
    /// from its start instead (the thread lost its CPU inside; under SCHED_IDLE on a busy machine it may get none for
    /// long). The gate's work takes microseconds, so on a machine with a free CPU this is never reached.
    /// </summary>
    public static readonly TimeSpan GateWait = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// How the background thread is scheduled: "SCHED_IDLE", or "nice 10" where SCHED_IDLE was refused, or what it
    /// could not set ("not started" before the thread runs).
    /// </summary>
    public string Priority => _priority;

    /// <summary>
    /// After the program (and its children) exited: stops the background thread, then packs every trace of
    /// <paramref name="traces"/> in place: the rest of its blocks, after checking that the recorder did not cut or
    /// rewrite those already packed (else, and when the thread failed, from its start). An input that cannot be
    /// copied block by block is packed by merging (<see cref="TracePacker.Pack"/>). A trace that cannot be packed
    /// at all stays raw: the exception propagates and no raw file is removed.
    /// </summary>
    public IReadOnlyList<PackedTrace> Finish(IEnumerable<string> traces)
    {
        Stop();
        if (_mode == "fail" && _failure is null && !_abandoned)
        {
            // The test hook fails every run, also one whose program ended before the thread found its first trace.
            _failure = new IOException($"{ModeVariable}=fail: simulated failure before the packer found a trace");
        }

        var done = new List<PackedTrace>();
        try
        {
            foreach (string trace in traces)
            {
                done.Add(FinishOne(Path.GetFullPath(trace)));
            }
        }
        finally
        {
            Dispose();
        }

        return done;
    }

    /// <summary>Stops the background thread and removes any unfinished output (the raw files stay).</summary>
    public void Dispose()
    {
        Stop();
        if (!_abandoned)
        {
            foreach (BlockRepacker r in _repackers.Values)
            {
                r.Dispose();
                File.Delete(r.Temp);
            }

            _repackers.Clear();
        }

        lock (_hold)
        {
            _released = true;
            Monitor.PulseAll(_hold);
        }
    }

    /// <summary>
    /// From here on the background thread changes nothing (it may still be reading or compressing a block, which it
    /// drops): either it left the gate within <see cref="GateWait"/>, or everything it did is abandoned.
    /// </summary>
    private void Stop()
    {
        if (_stopped)
        {
            return;
        }

        _stop = true;
        if (Monitor.TryEnter(_gate, GateWait))
        {
            Monitor.Exit(_gate);
        }
        else
        {
            _abandoned = true;
        }

        _stopped = true;
    }

    private PackedTrace FinishOne(string trace)
    {
        long inputBytes = new FileInfo(trace).Length;
        string? note = _failure is not null ? $"the online packer failed ({_failure.Message})" : null;
        if (_abandoned)
        {
            // The thread may still write to its output once it gets a CPU again: it keeps writing to that file
            // (unlinked here), while the trace is packed into a new one.
            note = $"the online packer, which runs on idle CPU only, did not leave its output within {(int)GateWait.TotalMilliseconds} ms";
            File.Delete(trace + ".packing");
        }
        else if (_failure is null && _repackers.Remove(trace, out BlockRepacker? repacker))
        {
            long before = repacker.InputDone;
            bool matches;
            try
            {
                matches = repacker.StillMatches();
            }
            catch
            {
                repacker.Dispose();
                File.Delete(repacker.Temp);
                throw;
            }

            if (matches)
            {
                RepackStep step;
                try
                {
                    step = repacker.Advance(final: true);
                }
                catch
                {
                    repacker.Dispose();
                    File.Delete(repacker.Temp);
                    throw;
                }

                if (step == RepackStep.Done)
                {
                    PackResult r = TracePacker.Finish(repacker, trace, inputBytes);
                    return new PackedTrace(trace, r, inputBytes, inputBytes - before, null);
                }
            }
            else
            {
                note = "the recorder rewrote blocks already packed";
            }

            repacker.Dispose();
            File.Delete(repacker.Temp);
        }

        return new PackedTrace(trace, TracePacker.Repack(trace, trace, _level), inputBytes, inputBytes, note);
    }

    private void Loop()
    {
        try
        {
            int tid = (int)GetTid(186 /* SYS_gettid */);
            Volatile.Write(ref _tid, tid);
            _priority = Deprioritise(tid);

            long lastScan = 0;
            bool failOnce = _mode == "fail";
            while (!_stop)
            {
                long now = Environment.TickCount64;
                if (now - lastScan >= 100 || _repackers.Count == 0)
                {
                    Discover();
                    lastScan = now;
                }

                if (_mode == "stall")
                {
                    Thread.Sleep(20);
                    continue;
                }

                BlockRepacker[] repackers;
                lock (_gate)
                {
                    repackers = [.. _repackers.Values];
                }

                if (failOnce && repackers.Length > 0)
                {
                    throw new IOException($"{ModeVariable}=fail: simulated failure while packing {repackers[0].Input}");
                }

                long progress = 0;
                foreach (BlockRepacker r in repackers)
                {
                    long before = r.InputDone;
                    r.AdvanceOnline(_gate, () => _stop, _mode == "hold" ? Hold : null, _mode == "hold-gate" ? Hold : null);
                    progress += r.InputDone - before;
                }

                if (progress == 0)
                {
                    Thread.Sleep(10);
                }
            }
        }
        catch (Exception e)
        {
            lock (_gate)
            {
                // After the stop, whatever the thread ran into (a file the final pass closed or renamed) is no failure.
                if (!_stop)
                {
                    _failure = e;
                }
            }
        }
    }

    /// <summary>The kernel's id of the background thread, once it runs (0 before).</summary>
    internal int ThreadId => Volatile.Read(ref _tid);

    /// <summary>How many times the background thread looked for new traces so far (<see cref="Listings"/>: how many of those listed the folder).</summary>
    internal int Looks => Volatile.Read(ref _looks);

    /// <summary>How many times the background thread listed the folder for child traces so far.</summary>
    internal int Listings => Volatile.Read(ref _listings);

    /// <summary>How many traces the background thread has found (and made a repacker for) so far.</summary>
    internal int KnownTraces => Volatile.Read(ref _knownCount);

    /// <summary>True once the <c>hold</c> test hook holds a compressed block (the thread waits in <see cref="Hold"/>).</summary>
    internal bool Holding => Volatile.Read(ref _held);

    /// <summary>The <c>hold</c> and <c>hold-gate</c> test hooks: the first compressed block waits, uncommitted, until the packer is disposed.</summary>
    private void Hold()
    {
        if (_held)
        {
            return;
        }

        Volatile.Write(ref _held, true);
        lock (_hold)
        {
            while (!_released)
            {
                Monitor.Wait(_hold);
            }
        }
    }

    /// <summary>
    /// Makes the thread <paramref name="tid"/> take only CPU time nothing else wants: SCHED_IDLE, or nice 10 where that is refused
    /// (Thread.Priority does nothing on Linux). Returns which.
    /// </summary>
    private static string Deprioritise(int tid)
    {
        int none = 0;
        if (SetScheduler(tid, 5 /* SCHED_IDLE */, ref none) == 0)
        {
            return "SCHED_IDLE";
        }

        return SetPriority(0 /* PRIO_PROCESS: with a tid, that thread */, tid, Nice) == 0
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"nice {Nice}")
            : "normal (neither SCHED_IDLE nor nice could be set)";
    }

    /// <summary>
    /// Adds a repacker for each trace file of the recording that appeared since the last look. The folder is listed for
    /// child traces only when its modification time moved since the last listing, or was then too recent to trust
    /// (<see cref="ListAgainWithin"/>): a folder of thousands of files is not read ten times a second. A child trace
    /// found late, or never, is packed after exit like any other.
    /// </summary>
    private void Discover()
    {
        Interlocked.Increment(ref _looks);
        if (!_known.Contains(_tracePath) && File.Exists(_tracePath))
        {
            Add(_tracePath);
        }

        DateTime changed = Directory.GetLastWriteTimeUtc(Path.GetDirectoryName(_tracePath)!);
        if (changed == _listedChange && _listedAt - changed > ListAgainWithin)
        {
            return;
        }

        _listedAt = DateTime.UtcNow;
        _listedChange = changed;
        Interlocked.Increment(ref _listings);
        foreach (string child in Recorder.FindChildTraces(_tracePath))
        {
            if (!_known.Contains(child))
            {
                Add(child);
            }
        }
    }

    /// <summary>
    /// A folder modified this shortly before it was listed is listed again at the next look even if its time did not
    /// move since: file times are as coarse as the kernel's clock tick, so a file made during the listing may leave it.
    /// </summary>
    private static readonly TimeSpan ListAgainWithin = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Adds a repacker for <paramref name="trace"/> unless there is one, under the gate and only before the stop (after
    /// it, <see cref="Finish"/> owns the dictionary); <c>_known</c>, the background thread's own record of what it
    /// added, spares it the gate for traces it has.
    /// </summary>
    private void Add(string trace)
    {
        lock (_gate)
        {
            if (_stop)
            {
                return;
            }

            if (!_repackers.ContainsKey(trace))
            {
                _repackers.Add(trace, new BlockRepacker(trace, trace + ".packing", _level));
            }
        }

        if (_known.Add(trace))
        {
            Interlocked.Increment(ref _knownCount);
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "sched_setscheduler")]
    private static partial int SetScheduler(int pid, int policy, ref int param);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "syscall")]
    private static partial long GetTid(long number);
}
