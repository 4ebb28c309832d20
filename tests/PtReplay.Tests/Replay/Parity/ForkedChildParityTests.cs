using PtReplay.Tests.Allocator;
using System.Text;
using PtReplay.Cli.Commands;
using PtReplay.Replay;
using PtReplay.Replay.Parity;
using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.ProcessTrees;

namespace PtReplay.Tests.Replay.Parity;

/// <summary>
/// Forked children verify from the heap they inherited: the model replays the parent's events up to the fork,
/// forks, then the child's. Real programs recorded at test time: a python multiprocessing pool, a shell.
/// </summary>
public sealed class ForkedChildParityTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-fork-");

    public void Dispose() => _dir.Dispose();

    private const string PoolScript = """
        import multiprocessing as mp
        def work(n):
            d = {}
            for i in range(n):
                d[i] = [str(i)] * 3
            return len(d)
        if __name__ == "__main__":
            mp.set_start_method("fork")
            with mp.Pool(2) as p:
                print(sum(p.map(work, [3000] * 8)))
        """;

    private static (int Code, string Output, string Progress) Verify(string trace)
    {
        using var reader = TraceReader.Open(trace);
        var output = new StringWriter();
        var progress = new StringWriter();
        int code = VerifyCommand.Run(reader, null, output, progress);
        return (code, output.ToString(), progress.ToString());
    }

    [Fact]
    public void MultiprocessingPoolWorkers_VerifyAtFullParity_FromTheParentsHeap()
    {
        File.WriteAllText(_dir.File("pool.py"), PoolScript);
        var env = RealPrograms.PythonEnvironment();
        var run = RecordedRun.Run(["/usr/bin/python3", _dir.File("pool.py")], _dir.File("pool.trace"),
            CleanEnvironment.With(new Dictionary<string, string> { ["LC_ALL"] = "C" }, env), followChildren: true, workingDirectory: _dir.Path);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("24000\n", Encoding.ASCII.GetString(run.StandardOutput));

        TraceTreeNode root = Assert.Single(TraceTree.Build(run.ChildTraces.Prepend(run.TracePath)));
        List<TraceTreeNode> workers = root.Children.Where(c => c.Header.Origin == TraceOrigin.ForkedChild).ToList();
        Assert.True(workers.Count >= 2, $"{workers.Count} forked workers");
        foreach (TraceTreeNode worker in workers)
        {
            InheritedHeap heap = Assert.IsType<InheritedHeap>(InheritedHeap.Find(worker.Path, worker.Header, out _));
            Assert.Equal(run.TracePath, heap.Parent.ParentPath);
            Assert.True(heap.PrefixEvents > 10_000, $"the pool forked after only {heap.PrefixEvents} events");

            (int code, string output, string progress) = Verify(worker.Path);
            Assert.True(code == 0, output + progress);
            Assert.Contains("inherited heap: pool.trace up to its fork", output, StringComparison.Ordinal);
            // Both the parent's part and the worker's own part agree allocation for allocation.
            string[] parity = output.Split('\n').Where(l => l.Contains("parity: ", StringComparison.Ordinal)).ToArray();
            Assert.Equal(2, parity.Length);
            Assert.All(parity, AssertFull);
        }

        // Without the parent's heap the worker frees blocks the model never saw: the old "parity: 4/N" shape.
        File.Move(run.TracePath, _dir.File("moved.trace"));
        (int alone, string aloneOutput, string aloneProgress) = Verify(workers[0].Path);
        Assert.Contains("is a fork child, but its parent's trace", aloneProgress, StringComparison.Ordinal);
        Assert.Contains("replaying it from an empty heap", aloneProgress, StringComparison.Ordinal);
        Assert.Equal(1, alone);
        Assert.Contains("free/realloc of pointers the trace never returned", aloneOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void ShellSubshells_ForkedBeforeAndAfterAllocating_VerifyFromTheParentsHeap()
    {
        // sh forks a child per pipeline stage; ( ... ) forks a subshell that forks again: a fork of a fork child.
        var run = RecordedRun.Run(["/bin/sh", "-c", "x=$(seq 1 300 | (read a; echo $a)); echo $x"], _dir.File("sh.trace"),
            CleanEnvironment.With(new Dictionary<string, string> { ["LC_ALL"] = "C", ["PATH"] = "/usr/bin:/bin" }), followChildren: true);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("1\n", Encoding.ASCII.GetString(run.StandardOutput));
        int forks = 0;
        foreach (string trace in run.ChildTraces)
        {
            using var reader = TraceReader.Open(trace);
            if (reader.Header.Origin != TraceOrigin.ForkedChild)
            {
                continue;
            }

            forks++;
            (int code, string output, string progress) = Verify(trace);
            Assert.True(code == 0, trace + "\n" + output + progress);
            Assert.Contains("inherited heap:", output, StringComparison.Ordinal);
        }

        Assert.True(forks >= 2, $"{forks} fork children");
    }

    [Fact]
    public void AMultiThreadParentsFork_LeavesTheOtherThreadsArenaFree_ForTheChildsNewThread()
    {
        string program = PtReplay.Tests.Traces.Recording.NativeTestBuild.Program("threadedfork", PtReplay.Tests.Traces.Recording.TestPrograms.ThreadedFork);
        var run = RecordedRun.Run([program], _dir.File("tf.trace"), CleanEnvironment.With(new Dictionary<string, string> { ["LC_ALL"] = "C" }),
            followChildren: true);
        Assert.Equal(0, run.ExitCode);
        string child = Assert.Single(run.ChildTraces);
        using (var reader = TraceReader.Open(child))
        {
            Assert.Equal(2, reader.ReadAll().Select(e => e.Thread).Distinct().Count()); // main and the child's worker
        }

        (int code, string output, string progress) = Verify(child);
        Assert.True(code == 0, output + progress);
        Assert.All(output.Split('\n').Where(l => l.Contains("parity: ", StringComparison.Ordinal)), AssertFull);

        // `replay --engine sim` with the address check is the same run: from the inherited heap, the same parity line.
        ReplayReport sim = ReplayRunner.RunFile(child, ["sim"], _dir.File("sim-out"), new ReplayOptions { CheckAddresses = true },
            new PreparationOptions());
        Assert.StartsWith("a fork child, replayed from its parent's heap at the fork", sim.InheritedHeapNote, StringComparison.Ordinal);
        AddressParity parity = Assert.IsType<AddressParity>(sim.Results[0].Parity);
        Assert.NotNull(parity.Inherited);
        Assert.Equal(output.TrimEnd().Split('\n')[^1], parity.Report.Summary);

        // The native replayer forks with the parent's other thread alive and creates the child's thread on its own: glibc
        // starts from the parent's heap and agrees with the model at every sample.
        AssertGlibcForksLikeTheModel(child, "both-out");
    }

    /// <summary>A thread other than main forks; the child (that thread's copy) allocates, runs a thread of its own, exits.</summary>
    private const string ForkFromAThread = """
        #include <pthread.h>
        #include <stdlib.h>
        #include <sys/wait.h>
        #include <unistd.h>
        static void *child_worker(void *arg) {
            (void)arg;
            void *p[300];
            for (int i = 0; i < 300; i++) p[i] = malloc(48 + (i % 90) * 8);
            for (int i = 0; i < 300; i += 2) free(p[i]);
            return NULL;
        }
        static void *forker(void *arg) {
            (void)arg;
            void *mine[150];
            for (int i = 0; i < 150; i++) mine[i] = malloc(200 + i * 16);
            for (int i = 0; i < 150; i += 3) free(mine[i]);
            pid_t pid = fork();
            if (pid == 0) {
                for (int i = 1; i < 150; i += 3) free(mine[i]);
                pthread_t w;
                if (pthread_create(&w, NULL, child_worker, NULL) != 0 || pthread_join(w, NULL) != 0) _exit(1);
                for (int i = 0; i < 80; i++) free(malloc(3000 + i * 32));
                _exit(0);
            }
            int status = 0;
            waitpid(pid, &status, 0);
            return (void *)(long)(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
        }
        int main(void) {
            void *a[300];
            for (int i = 0; i < 300; i++) a[i] = malloc(32 + i * 4);
            pthread_t t;
            void *result;
            if (pthread_create(&t, NULL, forker, NULL) != 0 || pthread_join(t, &result) != 0) return 1;
            for (int i = 0; i < 300; i++) free(a[i]);
            return (int)(long)result;
        }
        """;

    [Fact]
    public void AForkFromAThreadOtherThanMain_ReplaysOnGlibcFromTheParentsHeap_LikeTheModel()
    {
        string exe = Gcc.CompileSource(_dir.Path, "threadfork", ForkFromAThread, Gcc.Flags("-O1 -fno-builtin -pthread"), "-lpthread");
        var run = RecordedRun.Run([exe], _dir.File("tfa.trace"), CleanEnvironment.With(), followChildren: true);
        Assert.Equal(0, run.ExitCode);
        string child = Assert.Single(run.ChildTraces);
        using (var reader = TraceReader.Open(child))
        {
            InheritedHeap heap = Assert.IsType<InheritedHeap>(InheritedHeap.Find(child, reader.Header, out _));
            Assert.NotEqual(0, heap.Parent.ForkingThread); // the fork came from the second thread
        }

        (int code, string output, string progress) = Verify(child);
        Assert.True(code == 0, output + progress);
        Assert.All(output.Split('\n').Where(l => l.Contains("parity: ", StringComparison.Ordinal)), AssertFull);
        AssertGlibcForksLikeTheModel(child, "threadfork-out");
    }

    /// <summary>
    /// Replays a forked child with the model and glibc: both start from the parent's heap at the fork (the first sample)
    /// and agree on RSS and footprint at every sample; the child's own calls are all replayed.
    /// </summary>
    private void AssertGlibcForksLikeTheModel(string child, string folder)
    {
        ReplayReport both = ReplayRunner.RunFile(child, ["glibc", "sim"], _dir.File(folder),
            new ReplayOptions { NoTiming = true, SimPreamble = PtReplay.Replay.Sim.SimPreambleMode.Auto }, new PreparationOptions { SampleEvery = 20 });
        Assert.StartsWith("a fork child, replayed from its parent's heap at the fork", both.InheritedHeapNote, StringComparison.Ordinal);
        var glibc = both.Results.Single(r => r.Engine == "glibc");
        var sim = both.Results.Single(r => r.Engine == "sim");
        Assert.True(glibc.Error is null, glibc.Error);
        Assert.True(sim.Error is null, sim.Error);
        long childCalls;
        using (var reader = TraceReader.Open(child))
        {
            childCalls = reader.ReadAll().LongCount(e => e.Kind.IsCall());
        }

        Assert.Equal(childCalls, glibc.Calls);
        Assert.True(glibc.Series[0].FootprintBytes > 0, "glibc's child started from an empty heap");
        Assert.Equal(sim.Series.Select(p => (p.Seq, p.FootprintBytes, p.RssBytes)), glibc.Series.Select(p => (p.Seq, p.FootprintBytes, p.RssBytes)));
    }

    private static void AssertFull(string line)
    {
        string[] counts = line[(line.IndexOf("parity: ", StringComparison.Ordinal) + 8)..].Split(' ')[0].Split('/');
        Assert.True(counts[0] == counts[1] && long.Parse(counts[1], System.Globalization.CultureInfo.InvariantCulture) > 0, line);
    }
}
