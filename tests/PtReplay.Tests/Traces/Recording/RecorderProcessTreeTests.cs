using PtReplay.Tests.Infrastructure;
using System.Globalization;
using PtReplay.Traces;
using PtReplay.Traces.ProcessTrees;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>fork, exec, threads, --no-follow, and programs killed by a signal.</summary>
public class RecorderProcessTreeTests
{
    private static RecordingResult RunProbe(TempDir dir, string mode, bool follow = true) =>
        RecordedRun.Run([NativeTestBuild.Program("probe", TestPrograms.Probe), mode], dir.File("p.trace"),
            RecordingRuns.BaseEnvironment(dir.Path), followChildren: follow, timeout: TimeSpan.FromMinutes(1));

    [Fact]
    public void Fork_ChildWritesItsOwnTrace_ParentHasAForkMarker()
    {
        using var dir = new TempDir();
        RecordingResult run = RunProbe(dir, "fork");
        Assert.Equal(0, run.ExitCode);
        int childPid = int.Parse(System.Text.Encoding.ASCII.GetString(run.StandardOutput).Split(' ')[1], CultureInfo.InvariantCulture);

        List<AllocEvent> parent = RecordingRuns.ReadEvents(run.TracePath);
        AllocEvent fork = Assert.Single(parent, e => e.Kind == EventKind.Fork);
        Assert.Equal((ulong)childPid, fork.Size);
        Assert.Contains(parent, e => e.Kind == EventKind.Malloc && e.Size == 333);
        Assert.DoesNotContain(parent, e => e.Kind == EventKind.Malloc && e.Size == 222);

        string childTrace = Assert.Single(run.ChildTraces);
        Assert.Equal(childPid, Recorder.ChildPid(childTrace, run.TracePath));
        using var reader = TraceReader.Open(childTrace);
        Assert.Equal(childPid, reader.Header.Pid);
        Assert.False(reader.IsTruncated); // the child ended with _exit: still a complete trace
        List<AllocEvent> child = reader.ReadAll().ToList();
        Assert.Contains(child, e => e.Kind == EventKind.Malloc && e.Size == 222);
        // The parent's events buffered before the fork are not repeated in the child.
        Assert.DoesNotContain(child, e => e.Kind == EventKind.Malloc && e.Size == 111);
        // The block allocated before the fork is freed in the child: by its parent-given address.
        ulong inherited = parent.Single(e => e.Kind == EventKind.Malloc && e.Size == 111).Result;
        Assert.Contains(child, e => e.Kind == EventKind.Free && e.Ptr == inherited);

        // The child's header links it to the parent's trace at the fork: right after malloc(111), at the marker.
        Assert.Equal(TraceOrigin.ForkedChild, reader.Header.Origin);
        Assert.Equal(run.TracePath, ProcessLink.ParentFile(childTrace, reader.Header));
        ForkPoint at = Assert.IsType<ForkPoint>(ProcessLink.FindFork(childTrace, reader.Header));
        int markerIndex = parent.FindIndex(e => e.Kind == EventKind.Fork);
        Assert.Equal(markerIndex, at.ForkMarkerIndex);
        Assert.Equal(markerIndex, at.ParentEvents);
        Assert.Equal(111UL, parent[markerIndex - 1].Size);
    }

    [Fact]
    public void Fork_BeforeTheFirstMalloc_StillMarkedAndLinked()
    {
        using var dir = new TempDir();
        RecordingResult run = RunProbe(dir, "forkfirst");
        Assert.Equal(0, run.ExitCode);
        int childPid = int.Parse(System.Text.Encoding.ASCII.GetString(run.StandardOutput).Split(' ')[1], CultureInfo.InvariantCulture);

        List<AllocEvent> parent = RecordingRuns.ReadEvents(run.TracePath);
        Assert.Equal([EventKind.ThreadStart, EventKind.Fork], parent.Take(2).Select(e => e.Kind));
        Assert.Equal((ulong)childPid, parent[1].Size);
        string childTrace = Assert.Single(run.ChildTraces);
        using var reader = TraceReader.Open(childTrace);
        ForkPoint fork = Assert.IsType<ForkPoint>(ProcessLink.FindFork(childTrace, reader.Header));
        Assert.Equal(1, fork.ParentEvents); // after the parent's thread start, before anything it allocated
        Assert.Equal(1, fork.ForkMarkerIndex);
    }

    [Fact]
    public void Vfork_IsAFork_AndTheExecdChildLinksToTheParent()
    {
        using var dir = new TempDir();
        RecordingResult run = RunProbe(dir, "vfork");
        Assert.Equal(0, run.ExitCode);
        string[] words = System.Text.Encoding.ASCII.GetString(run.StandardOutput).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["vforked", "child"], words[..2]); // the program behaves as without the recorder
        int childPid = int.Parse(words[2], CultureInfo.InvariantCulture);
        Assert.Equal("0", words[4]);

        List<AllocEvent> parent = RecordingRuns.ReadEvents(run.TracePath);
        AllocEvent fork = Assert.Single(parent, e => e.Kind == EventKind.Fork);
        Assert.Equal((ulong)childPid, fork.Size);
        Assert.Contains(parent, e => e.Kind == EventKind.Free && e.Ptr == parent.Single(m => m.Size == 666 && m.Kind == EventKind.Malloc).Result);

        // The vfork child wrote no trace before its exec (it borrowed the parent's memory); the echo it
        // exec'd did, linked to the parent's trace.
        string echo = Assert.Single(run.ChildTraces);
        using var reader = TraceReader.Open(echo);
        Assert.Equal(childPid, reader.Header.Pid);
        Assert.Equal("/usr/bin/echo", reader.Header.ExecutablePath);
        Assert.Equal(TraceOrigin.ExecutedImage, reader.Header.Origin);
        Assert.Equal(run.TracePath, ProcessLink.ParentFile(echo, reader.Header));
    }

    [Fact]
    public void FailedExecs_OfAPathWalk_LeaveNoStubTraces()
    {
        using var dir = new TempDir();
        RecordingResult run = RunProbe(dir, "pathwalk");
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("walked\n", System.Text.Encoding.ASCII.GetString(run.StandardOutput));

        // Two execve calls failed (ENOENT) before the third ran echo: one trace for the probe, one for echo.
        using (var probe = TraceReader.Open(run.TracePath))
        {
            List<AllocEvent> events = probe.ReadAll().ToList();
            Assert.False(probe.IsTruncated);
            Assert.Contains(events, e => e.Kind == EventKind.Malloc && e.Size == 777);
            Assert.Single(events, e => e.Kind == EventKind.Exec);
            Assert.Equal(EventKind.Exec, events[^1].Kind);
        }

        string echo = Assert.Single(run.ChildTraces);
        using var execd = TraceReader.Open(echo);
        Assert.Equal("/usr/bin/echo", execd.Header.ExecutablePath);
        Assert.Equal(run.TracePath, ProcessLink.ParentFile(echo, execd.Header));
    }

    [Fact]
    public void ShellPipeline_IsATreeOfForksAndExecs_WithCommandLines()
    {
        using var dir = new TempDir();
        RecordingResult run = RecordedRun.Run(["sh", "-c", "seq 1 20000 | sort -n | tail -1"], dir.File("sh.trace"),
            RecordingRuns.BaseEnvironment(dir.Path), followChildren: true, timeout: TimeSpan.FromMinutes(1));
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("20000\n", System.Text.Encoding.ASCII.GetString(run.StandardOutput));

        TraceTreeNode root = Assert.Single(TraceTree.Build(run.ChildTraces.Prepend(run.TracePath)));
        Assert.Equal(run.TracePath, root.Path);
        Assert.Equal("sh -c seq 1 20000 | sort -n | tail -1", root.Header.CommandLine);
        // Each stage: a fork child of the shell that exec'd the program (no trace of failed PATH lookups).
        Assert.Equal(3, root.Children.Count);
        Assert.All(root.Children, c => Assert.Equal(TraceOrigin.ForkedChild, c.Header.Origin));
        Assert.All(root.Children, c => Assert.Equal(root.Header.Pid, c.Header.ParentPid));
        string[] programs = root.Children.Select(c => Assert.Single(c.Children)).Select(e => e.Header.CommandLine).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["seq 1 20000", "sort -n", "tail -1"], programs);
        Assert.All(root.Children, c => Assert.Equal(TraceOrigin.ExecutedImage, c.Children[0].Header.Origin));
        Assert.Equal(7, run.ChildTraces.Count + 1);
    }

    [Fact]
    public void Exec_ByTheStartedProcess_OutputHoldsTheStartedProgram_TheNewImageIsBesideIt()
    {
        using var dir = new TempDir();
        RecordingResult run = RunProbe(dir, "exec");
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("exec'd\n", System.Text.Encoding.ASCII.GetString(run.StandardOutput));

        using (var probe = TraceReader.Open(run.TracePath))
        {
            Assert.Equal(TraceOrigin.StartedProgram, probe.Header.Origin);
            List<AllocEvent> events = probe.ReadAll().ToList();
            Assert.Contains(events, e => e.Kind == EventKind.Malloc && e.Size == 444);
            Assert.Equal(EventKind.Exec, events[^1].Kind);
            Assert.False(probe.IsTruncated);
        }

        string after = Assert.Single(run.ChildTraces);
        using var echo = TraceReader.Open(after);
        Assert.Equal("/usr/bin/echo", echo.Header.ExecutablePath);
        Assert.Equal(TraceOrigin.ExecutedImage, echo.Header.Origin);
        Assert.Equal(run.TracePath, ProcessLink.ParentFile(after, echo.Header));
        Assert.Contains(echo.ReadAll(), e => e.Kind.IsCall());
    }

    [Fact]
    public void Exec_ByAChild_IsTracedBesideIt_UnlessNoFollow()
    {
        using var dir = new TempDir();
        RecordingResult run = RunProbe(dir, "forkexec");
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("child exec'd\n", System.Text.Encoding.ASCII.GetString(run.StandardOutput));
        // The forked child (ends with exec) and the program it exec'd, both under the child's pid.
        Assert.Equal(2, run.ChildTraces.Count);
        int pid = Recorder.ChildPid(run.ChildTraces[0], run.TracePath);
        Assert.Equal(pid, Recorder.ChildPid(run.ChildTraces[1], run.TracePath));
        using (var forked = TraceReader.Open(run.ChildTraces[0]))
        {
            Assert.Equal(EventKind.Exec, forked.ReadAll().Last().Kind);
        }

        using (var execd = TraceReader.Open(run.ChildTraces[1]))
        {
            Assert.Equal("/usr/bin/echo", execd.Header.ExecutablePath);
        }

        using var dir2 = new TempDir();
        RecordingResult quiet = RunProbe(dir2, "forkexec", follow: false);
        Assert.Equal(run.StandardOutput, quiet.StandardOutput);
        Assert.Empty(quiet.ChildTraces);
        Assert.Contains(RecordingRuns.ReadEvents(quiet.TracePath), e => e.Kind == EventKind.Fork);
    }

    [Fact]
    public void Threads_EachHasStartAndExit_AndEveryFreeFollowsItsAllocation()
    {
        using var dir = new TempDir();
        RecordingResult run = RecordingRuns.Run(RecordingRuns.Get("mt"), dir.File("mt.trace"), dir.Path);
        Assert.Equal(0, run.ExitCode);
        using var reader = TraceReader.Open(run.TracePath);
        List<AllocEvent> events = reader.ReadAll().ToList();
        Assert.Equal(5, reader.ThreadTids.Count); // main + 2 producers + 2 consumers
        Assert.Equal(5, reader.ThreadTids.Distinct().Count());
        Assert.Equal(5, events.Count(e => e.Kind == EventKind.ThreadStart));
        Assert.Equal(4, events.Count(e => e.Kind == EventKind.ThreadExit)); // the main thread ends with the process
        Assert.Equal(reader.Header.Pid, reader.ThreadTids[0]); // thread 0 is the main thread

        // In the reader's (timestamp) order every pointer is allocated before it is freed, across threads.
        var live = new HashSet<ulong>();
        int crossThread = 0;
        var owner = new Dictionary<ulong, int>();
        foreach (AllocEvent e in events)
        {
            if (e.Kind.TakesPointer() && e.Ptr != 0)
            {
                Assert.True(live.Remove(e.Ptr), $"{e} frees a pointer not allocated before it");
                crossThread += owner[e.Ptr] != e.Thread ? 1 : 0;
            }

            if (e.Kind.Allocates() && e.Result != 0)
            {
                Assert.True(live.Add(e.Result), $"{e} returns a live pointer");
                owner[e.Result] = e.Thread;
            }
        }

        Assert.True(crossThread >= 6000, $"only {crossThread} cross-thread frees");
    }

    [Fact]
    public void Sigkill_LeavesAReadableTruncatedTrace()
    {
        using var dir = new TempDir();
        RecordingResult run = RunProbe(dir, "kill");
        Assert.Equal(128 + 9, run.ExitCode);
        using var reader = TraceReader.Open(run.TracePath);
        Assert.True(reader.IsTruncated);
        List<AllocEvent> events = reader.ReadAll().ToList();
        // 400,000 calls; all but the last buffer (256 KiB: at most ~87,000 events of 3 bytes or more) were flushed.
        Assert.InRange(events.Count(e => e.Kind.IsCall()), 300_000, 400_000);
    }

    [Fact]
    public void Abort_FlushesWhatWasBuffered()
    {
        using var dir = new TempDir();
        RecordingResult run = RunProbe(dir, "abort");
        Assert.Equal(128 + 6, run.ExitCode);
        using var reader = TraceReader.Open(run.TracePath);
        Assert.True(reader.IsTruncated); // no end block: the process did not exit normally
        List<AllocEvent> events = reader.ReadAll().ToList();
        Assert.True(events.Count(e => e.Kind == EventKind.Malloc && e.Size is >= 1 and <= 1000) >= 1000);
        Assert.Contains(events, e => e.Kind == EventKind.Free && events.Any(m => m.Kind == EventKind.Malloc && m.Size == 1000 && m.Result == e.Ptr));
    }
}
