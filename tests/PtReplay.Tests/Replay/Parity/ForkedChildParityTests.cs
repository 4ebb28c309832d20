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

        // The native replayer forks only while it runs one thread: with glibc in the run, the child starts from an empty heap.
        ReplayReport both = ReplayRunner.RunFile(child, ["sim", "glibc"], _dir.File("both-out"), new ReplayOptions(), new PreparationOptions());
        Assert.Contains("replayed from an empty heap", both.InheritedHeapNote, StringComparison.Ordinal);
    }

    private static void AssertFull(string line)
    {
        string[] counts = line[(line.IndexOf("parity: ", StringComparison.Ordinal) + 8)..].Split(' ')[0].Split('/');
        Assert.True(counts[0] == counts[1] && long.Parse(counts[1], System.Globalization.CultureInfo.InvariantCulture) > 0, line);
    }
}
