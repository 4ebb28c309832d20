using System.Diagnostics;
using System.Globalization;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Recording;
using PtReplay.Traces;
using PtReplay.Traces.Format;
using PtReplay.Traces.Packing;
using PtReplay.Traces.ProcessTrees;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces;

/// <summary>
/// `record` packs while the program runs (<see cref="OnlinePacker"/>): real programs recorded so, each raw file copied
/// the moment the program exits (before the packer finishes), must give what packing those raw files after exit gives
/// (<see cref="TracePacker.Pack"/>): the same events, thread tids, header, lost-event count, truncation and tree. The
/// packer's fallbacks (it fails, it cannot keep up) must give the same.
/// </summary>
public sealed class OnlinePackingTests
{
    private sealed record OnlineRun(RecordingResult Result, IReadOnlyList<PackedTrace> Packed, string RawDir, Exception? Failure);

    private static OnlineRun RecordOnline(TempDir dir, IReadOnlyList<string> command, IReadOnlyDictionary<string, string>? extra = null,
        string? mode = null)
    {
        string trace = dir.File("t.trace");
        File.WriteAllText(trace + ".packing", "left by a record that was killed");
        File.WriteAllText(trace + ".4242.packing", "left by a record that was killed");
        File.WriteAllText(trace + ".notes.packing", "not a trace's");
        OnlinePacker? packer = null;
        RecordingResult result = Recorder.Run(new RecordingOptions
        {
            Command = command,
            OutputPath = trace,
            FollowChildren = true,
            Environment = CleanEnvironment.With(RecordingRuns.BaseEnvironment(dir.Path), extra ?? new Dictionary<string, string>()),
            CaptureOutput = true,
            WorkingDirectory = dir.Path,
            Timeout = TimeSpan.FromMinutes(2),
            Started = _ => packer = OnlinePacker.Start(trace, mode: mode),
        });
        Assert.True(result.ExitCode == 0, System.Text.Encoding.UTF8.GetString(result.StandardError));

        // The raw files as the recorder left them, before the packer finishes and replaces them.
        string rawDir = dir.NewFolder("raw");
        foreach (string file in result.ChildTraces.Prepend(trace))
        {
            File.Copy(file, Path.Combine(rawDir, Path.GetFileName(file)));
        }

        IReadOnlyList<PackedTrace> packed = packer!.Finish(result.ChildTraces.Prepend(trace));
        return new OnlineRun(result, packed, rawDir, packer.Failure);
    }

    /// <summary>Each packed trace against its raw copy packed after exit; then the two trees.</summary>
    private static void AssertSameAsPackingAfterExit(OnlineRun run)
    {
        var online = run.Result.ChildTraces.Prepend(run.Result.TracePath).ToList();
        string afterDir = Path.Combine(run.RawDir, "..", "after");
        Directory.CreateDirectory(afterDir);
        var after = new List<string>();
        foreach (string file in online)
        {
            string packedAfter = Path.Combine(afterDir, Path.GetFileName(file));
            TracePacker.Pack(Path.Combine(run.RawDir, Path.GetFileName(file)), packedAfter);
            after.Add(packedAfter);
            using TraceReader a = TraceReader.Open(file);
            using TraceReader b = TraceReader.Open(packedAfter);
            Assert.True(a.CompressedBlockCount > 0 || a.BlockCount <= 2, $"{file}: nothing compressed");
            Assert.Equal(HeaderCodec.Encode(b.Header), HeaderCodec.Encode(a.Header));
            List<AllocEvent> ea = a.ReadAll().ToList(), eb = b.ReadAll().ToList();
            Assert.Equal(eb.Count, ea.Count);
            Assert.True(eb.SequenceEqual(ea), $"{file}: the events differ from packing after exit");
            Assert.Equal(b.ThreadTids, a.ThreadTids);
            Assert.Equal(b.LostEvents, a.LostEvents);
            Assert.Equal(b.IsTruncated, a.IsTruncated);
            RecordingSummary s = RecordingSummary.Of(file);
            Assert.Equal(eb.Count, s.Events);
            Assert.Equal(b.ThreadTids.Count, s.Threads);
            Assert.Equal(eb.Count == 0 ? 0 : eb.Max(e => e.Timestamp) - eb.Min(e => e.Timestamp), s.DurationNs);
        }

        Assert.Equal(Shape(TraceTree.Build(after)), Shape(TraceTree.Build(online)));
        Assert.Equal([run.Result.TracePath + ".notes.packing"],
            Directory.EnumerateFiles(Path.GetDirectoryName(run.Result.TracePath)!, "*.packing"));
    }

    private static List<string> Shape(IReadOnlyList<TraceTreeNode> roots)
    {
        var lines = new List<string>();
        void Walk(TraceTreeNode n, int depth)
        {
            lines.Add($"{depth} {Path.GetFileName(n.Path)} {n.Header.Origin} {n.Header.Pid} {n.Truncated}");
            foreach (TraceTreeNode c in n.Children)
            {
                Walk(c, depth + 1);
            }
        }

        foreach (TraceTreeNode r in roots)
        {
            Walk(r, 0);
        }

        return lines;
    }

    [Fact]
    public void Python_PackedWhileRunning_SameAsPackingAfterExit()
    {
        using var dir = new TempDir();
        OnlineRun run = RecordOnline(dir, [RealPrograms.Python, Path.Combine(RepoFiles.Workloads, "python_work.py"), "2"],
            RealPrograms.PythonEnvironment());
        Assert.Null(run.Failure);
        Assert.True(RecordingSummary.Of(run.Result.TracePath).Events > 200_000);
        AssertSameAsPackingAfterExit(run);
    }

    [Fact]
    public void MultiThreadProgram_PackedWhileRunning_SameAsPackingAfterExit()
    {
        using var dir = new TempDir();
        OnlineRun run = RecordOnline(dir, [NativeTestBuild.Program("handoff", TestPrograms.Handoff), "12"]);
        using (var reader = TraceReader.Open(run.Result.TracePath))
        {
            Assert.True(reader.ReadAll().Select(e => e.Thread).Distinct().Count() > 10);
        }

        AssertSameAsPackingAfterExit(run);
    }

    [Fact]
    public void ForkingProgram_PackedWhileRunning_SameTreeAsPackingAfterExit()
    {
        using var dir = new TempDir();
        OnlineRun run = RecordOnline(dir, ["/bin/sh", "-c",
            $"{NativeTestBuild.Program("threadedfork", TestPrograms.ThreadedFork)}; {NativeTestBuild.Program("probe", TestPrograms.Probe)} forkexec"]);
        Assert.True(run.Result.ChildTraces.Count >= 4, string.Join(", ", run.Result.ChildTraces));
        AssertSameAsPackingAfterExit(run);
    }

    [Fact]
    public void EventsLostAtTheFileSizeLimit_TheRecorderCutsPackedBlocks_SameAsPackingAfterExit()
    {
        // At exit the recorder cuts its file back to a block boundary and rewrites the end (FORMAT.md "Lost events"):
        // blocks the packer copied may be gone, and the header's version changes.
        using var dir = new TempDir();
        OnlineRun run = RecordOnline(dir, [NativeTestBuild.Program("fsizelimit", TestPrograms.FileSizeLimit), "1500000", "500000", "2"]);
        using (var reader = TraceReader.Open(run.Result.TracePath))
        {
            Assert.True(reader.LostEvents > 0);
            Assert.Equal(TraceFormat.LostEventsVersion, reader.Header.FormatVersion);
        }

        AssertSameAsPackingAfterExit(run);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.999)]
    public void RawFileCutInsideABlock_RepackGivesWhatPackGives(double keep)
    {
        using var dir = new TempDir();
        string raw = dir.File("cut.trace");
        RecordedRun.RecordOrThrow([NativeTestBuild.Program("handoff", TestPrograms.Handoff), "4"], raw, RecordingRuns.BaseEnvironment(dir.Path));
        byte[] bytes = File.ReadAllBytes(raw);
        File.WriteAllBytes(raw, bytes[..(int)(bytes.Length * keep)]);
        TracePacker.Repack(raw, dir.File("repacked.trace"));
        TracePacker.Pack(raw, dir.File("packed.trace"));
        using TraceReader a = TraceReader.Open(dir.File("repacked.trace"));
        using TraceReader b = TraceReader.Open(dir.File("packed.trace"));
        Assert.True(b.IsTruncated);
        Assert.Equal(b.IsTruncated, a.IsTruncated);
        Assert.Equal(b.ReadAll().ToList(), a.ReadAll().ToList());
        Assert.Equal(b.ThreadTids, a.ThreadTids);
    }

    [Fact]
    public void PackerFails_EveryTracePackedAfterExit_SameAsPackingAfterExit()
    {
        using var dir = new TempDir();
        OnlineRun run = RecordOnline(dir, ["/bin/sh", "-c", $"{NativeTestBuild.Program("handoff", TestPrograms.Handoff)} 3; true"],
            mode: "fail");
        Assert.IsType<IOException>(run.Failure);
        Assert.All(run.Packed, p => Assert.Equal(p.InputBytes, p.BytesAfterExit));
        AssertSameAsPackingAfterExit(run);
    }

    [Fact]
    public void PackerStalls_TheRestIsPackedAfterExit_SameAsPackingAfterExit()
    {
        using var dir = new TempDir();
        OnlineRun run = RecordOnline(dir, [RealPrograms.Python, Path.Combine(RepoFiles.Workloads, "python_work.py"), "1"],
            RealPrograms.PythonEnvironment(), mode: "stall");
        Assert.Null(run.Failure);
        PackedTrace main = Assert.Single(run.Packed);
        Assert.Equal(main.InputBytes, main.BytesAfterExit);
        AssertSameAsPackingAfterExit(run);
    }

    [Fact]
    public async Task PackerThreadGetsNoCpu_FinishGoesOnWithoutIt_SameAsPackingAfterExit()
    {
        // A SCHED_IDLE thread on a busy machine can wait long for a CPU: here the thread holds its first compressed
        // block uncommitted (the hold hook) until the packer is disposed, which Finish does last. A Finish that
        // waited for the thread would never return.
        using var dir = new TempDir();
        HeldRun held = await RunWithTheThreadHeld(dir, "hold", "the packer thread compressed no block while the program ran");
        (RecordingResult result, IReadOnlyList<PackedTrace> packed, string rawDir, OnlinePacker packer, string trace) = held;
        PackedTrace main = packed.Single(p => p.Path == Path.GetFullPath(trace));
        // Only the file header was committed online; the held block and all after it were packed after exit.
        Assert.InRange(main.InputBytes - main.BytesAfterExit, 1, 64 * 1024);
        AssertSameAsPackingAfterExit(new OnlineRun(result, packed, rawDir, packer.Failure));
    }

    [Fact]
    public async Task PackerThreadStuckInsideTheGate_FinishGivesUpOnIt_EveryTracePackedFromItsStart()
    {
        // A SCHED_IDLE thread that loses its CPU while it commits a block holds the gate until it gets one again, which
        // on a busy machine can take long: here the hook holds it there until the packer is disposed. Finish must
        // neither wait for it nor use or remove what it may still write, and must pack every trace after exit anyway.
        using var dir = new TempDir();
        HeldRun held = await RunWithTheThreadHeld(dir, "hold-gate", "the packer thread committed no block while the program ran");
        (RecordingResult result, IReadOnlyList<PackedTrace> packed, string rawDir, OnlinePacker packer, string trace) = held;
        foreach (PackedTrace p in packed)
        {
            // Nothing the thread committed is used: every trace was packed after exit from its start, and says why.
            Assert.Equal(p.InputBytes, p.BytesAfterExit);
            Assert.Contains("did not leave its output", p.Note, StringComparison.Ordinal);
        }

        AssertSameAsPackingAfterExit(new OnlineRun(result, packed, rawDir, packer.Failure));
    }

    private sealed record HeldRun(RecordingResult Result, IReadOnlyList<PackedTrace> Packed, string RawDir, OnlinePacker Packer, string Trace);

    /// <summary>
    /// Records python_work.py 1 with the packer thread held by test hook <paramref name="hook"/> ("hold": with its
    /// first compressed block uncommitted; "hold-gate": inside its lock) until the packer is disposed, keeps a copy of
    /// every raw trace, and runs Finish, which must return without the thread (within two minutes).
    /// </summary>
    private static async Task<HeldRun> RunWithTheThreadHeld(TempDir dir, string hook, string heldMessage)
    {
        string trace = dir.File("t.trace");
        File.WriteAllText(trace + ".notes.packing", "not a trace's");
        string go = dir.File("go");
        string script = dir.File("work-then-wait.py");
        File.WriteAllText(script,
            "import os, sys, time\n" +
            $"sys.argv = ['python_work.py', '1']\nexec(open('{Path.Combine(RepoFiles.Workloads, "python_work.py")}').read())\n" +
            $"while not os.path.exists('{go}'):\n    time.sleep(0.02)\n");
        OnlinePacker? packer = null;
        Task<RecordingResult> recording = Task.Run(() => Recorder.Run(new RecordingOptions
        {
            Command = [RealPrograms.Python, script],
            OutputPath = trace,
            FollowChildren = true,
            Environment = CleanEnvironment.With(RecordingRuns.BaseEnvironment(dir.Path), RealPrograms.PythonEnvironment()),
            CaptureOutput = true,
            WorkingDirectory = dir.Path,
            Timeout = TimeSpan.FromMinutes(3),
            Started = _ => packer = OnlinePacker.Start(trace, mode: hook),
        }));
        SpinWait.SpinUntil(() => packer?.Holding == true || recording.IsCompleted, TimeSpan.FromMinutes(2));
        File.WriteAllText(go, "");
        RecordingResult result = await recording;
        Assert.True(result.ExitCode == 0, System.Text.Encoding.UTF8.GetString(result.StandardError));
        Assert.True(packer!.Holding, heldMessage);
        string rawDir = dir.NewFolder("raw");
        foreach (string file in result.ChildTraces.Prepend(trace))
        {
            File.Copy(file, Path.Combine(rawDir, Path.GetFileName(file)));
        }

        Task<IReadOnlyList<PackedTrace>> finish = Task.Run(() => packer.Finish(result.ChildTraces.Prepend(trace)));
        Assert.True(await Task.WhenAny(finish, Task.Delay(TimeSpan.FromMinutes(2))) == finish, "Finish waited for the packer thread");
        IReadOnlyList<PackedTrace> packed = await finish;
        Assert.Null(packer.Failure);
        return new HeldRun(result, packed, rawDir, packer, trace);
    }

    [Fact]
    public void ChildTraceAppearingInAQuietFolder_IsFound_TheFolderIsNotListedWhileNothingChanges()
    {
        using var dir = new TempDir();
        string trace = dir.File("t.trace");
        string sample = Path.Combine(RepoFiles.Root, "traces", "samples", "python.trace");
        using OnlinePacker packer = OnlinePacker.Start(trace, mode: "stall"); // stall: copies nothing, still looks for traces
        File.Copy(sample, trace);
        Assert.True(SpinWait.SpinUntil(() => packer.KnownTraces == 1, TimeSpan.FromMinutes(2)), "the started program's trace was not found");
        // Once the folder's last change is older than the margin, the thread goes on looking but no longer lists it.
        Assert.True(SpinWait.SpinUntil(() =>
        {
            int listings = packer.Listings, looks = packer.Looks;
            Thread.Sleep(500);
            return packer.Listings == listings && packer.Looks > looks + 1;
        }, TimeSpan.FromMinutes(2)), "the folder was listed at every look although nothing changed in it");
        int quiet = packer.Listings;
        File.Copy(sample, trace + ".4242");
        Assert.True(SpinWait.SpinUntil(() => packer.KnownTraces == 2, TimeSpan.FromMinutes(2)), "the child trace was not found");
        Assert.True(packer.Listings > quiet);
    }

    [Fact]
    public void PackerThread_RunsUnderSchedIdle_AsTheKernelSeesIt()
    {
        using var dir = new TempDir();
        using OnlinePacker packer = OnlinePacker.Start(dir.File("not-yet.trace"));
        Assert.True(SpinWait.SpinUntil(() => packer.Priority != "not started", TimeSpan.FromMinutes(1)), "the packer thread did not start");
        Assert.Equal("SCHED_IDLE", packer.Priority);
        // /proc/self/task/TID/stat: "(comm)" is the thread's name cut to 15 bytes; field 41 is its policy (SCHED_IDLE = 5).
        string stat = File.ReadAllText($"/proc/self/task/{packer.ThreadId}/stat");
        Assert.Contains("(ptreplay online)", stat, StringComparison.Ordinal);
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        Assert.Equal("5", fields[41 - 3]);
    }

    [Fact]
    public async Task RecordKilledBySigterm_ForwardsIt_TraceIsPackedAndReadsAsTruncated()
    {
        using var dir = new TempDir();
        string trace = dir.File("k.trace");
        string program = NativeTestBuild.Program("endless", TestPrograms.Endless);
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "ptreplay.dll"), "record", "-o", trace, "--", program })
        {
            psi.ArgumentList.Add(arg);
        }

        using Process record = Process.Start(psi)!;
        Task<string> stderr = record.StandardError.ReadToEndAsync();
        try
        {
            Assert.Equal("ready", record.StandardOutput.ReadLine());
            Thread.Sleep(300);
            (int killed, _, string why) = ChildProcess.Run("/bin/kill", ["-TERM", record.Id.ToString(CultureInfo.InvariantCulture)], null);
            Assert.True(killed == 0, why);
            Assert.True(record.WaitForExit(TimeSpan.FromMinutes(2)), "record did not end after SIGTERM");
        }
        finally
        {
            if (!record.HasExited)
            {
                record.Kill(entireProcessTree: true);
            }
        }

        string log = await stderr;
        Assert.True(record.ExitCode == 128 + 15, log);
        Assert.Contains("packed", log);
        using var reader = TraceReader.Open(trace);
        Assert.True(reader.IsTruncated, log);
        Assert.True(reader.CompressedBlockCount > 0, "the trace was not packed");
        long events = reader.ReadAll().LongCount();
        Assert.True(events >= 50_000, $"{events} events");
        Assert.Empty(Directory.EnumerateFiles(dir.Path, "*.packing"));
    }
}
