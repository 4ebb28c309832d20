using System.Text;
using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;
using PtReplay.Traces.ProcessTrees;

namespace PtReplay.Tests.Replay;

/// <summary>
/// `replay` of a forked child starts from its parent's heap at the fork, on the model and on glibc (the native
/// replayer forks itself there): a python multiprocessing pool worker recorded at test time.
/// </summary>
public sealed class ForkedChildReplayTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-forkreplay-");

    public void Dispose() => _dir.Dispose();

    private const string PoolScript = """
        import multiprocessing as mp
        def work(n):
            d = {}
            for i in range(n):
                d[i] = [str(i)] * 3
            return len(d)
        if __name__ == "__main__":
            keep = [str(i) * 20 for i in range(20000)]   # the parent's heap, inherited by the workers
            mp.set_start_method("fork")
            with mp.Pool(2) as p:
                print(sum(p.map(work, [3000] * 4)))
        """;

    [Fact]
    public void PoolWorker_ReplaysFromTheParentsHeap_OnTheModelAndOnGlibc()
    {
        File.WriteAllText(_dir.File("pool.py"), PoolScript);
        var run = RecordedRun.Run(["/usr/bin/python3", _dir.File("pool.py")], _dir.File("pool.trace"),
            CleanEnvironment.With(new Dictionary<string, string> { ["LC_ALL"] = "C" }, RealPrograms.PythonEnvironment()),
            followChildren: true, workingDirectory: _dir.Path);
        Assert.Equal(0, run.ExitCode);
        Assert.Equal("12000\n", Encoding.ASCII.GetString(run.StandardOutput));
        TraceTreeNode root = Assert.Single(TraceTree.Build(run.ChildTraces.Prepend(run.TracePath)));
        TraceTreeNode worker = root.Children.First(c => c.Header.Origin == TraceOrigin.ForkedChild);

        // Live bytes at the fork, from the trace analysis of the parent's events before it.
        InheritedHeap heap = Assert.IsType<InheritedHeap>(InheritedHeap.Find(worker.Path, worker.Header, out _));
        var stats = new TraceStatistics();
        foreach (AllocEvent e in InheritedHeap.ReadPrefix(heap.Parent))
        {
            stats.Add(in e);
        }

        ulong liveAtFork = stats.LiveBytes;
        Assert.True(liveAtFork > 1_000_000, $"the parent held only {liveAtFork} bytes at the fork");

        // Under the GC proof too: it must not change what is measured, and the child's replay is a timed window of its own.
        ReplayReport report = ReplayRunner.RunFile(worker.Path, ["sim", "glibc"], _dir.File("out"), new ReplayOptions { GcProof = true },
            new PreparationOptions());
        Assert.StartsWith("a fork child, replayed from its parent's heap at the fork: pool.trace", report.InheritedHeapNote, StringComparison.Ordinal);
        EngineResult sim = report.Results[0], glibc = report.Results[1];
        Assert.True(sim.Error is null, sim.Error);
        Assert.True(glibc.Error is null, glibc.Error);
        // The first sample is taken at the fork: the parent's live set, in the parent's footprint.
        Assert.Equal(liveAtFork, sim.Series[0].LiveBytes);
        Assert.Equal(liveAtFork, glibc.Series[0].LiveBytes);
        Assert.True(glibc.Series[0].FootprintBytes >= liveAtFork, $"glibc footprint {glibc.Series[0].FootprintBytes} at the fork");
        Assert.InRange((double)glibc.Series[0].FootprintBytes / sim.Series[0].FootprintBytes, 0.99, 1.01);
        // The summary names the worker, not the parent whose heap it started from.
        using (var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir.File("out"), "summary.json"))))
        {
            System.Text.Json.JsonElement trace = summary.RootElement.GetProperty("trace");
            Assert.Equal(worker.Header.Pid, trace.GetProperty("pid").GetInt32());
            Assert.Equal(worker.Header.ParentPid, trace.GetProperty("parent_pid").GetInt32());
        }

        // Only the worker's own calls are measured.
        long workerCalls;
        using (var reader = TraceReader.Open(worker.Path))
        {
            workerCalls = reader.ReadAll().Count(e => e.Kind.IsCall());
        }

        Assert.Equal(workerCalls, glibc.Calls);
        Assert.Equal(workerCalls, sim.Calls);
        // The parent's ops rebuilt the heap in one window, the child's replay is the second; the runtime's events saw both.
        Assert.Equal(2, sim.Gc!.TimedWindows);
        Assert.Equal(0, sim.Gc.EventsLost);
        Assert.NotNull(sim.Gc.CollectionsInTimedWindows);

        // Without the parent's trace: an empty heap, with a note saying so.
        File.Move(run.TracePath, _dir.File("elsewhere.trace"));
        ReplayReport alone = ReplayRunner.RunFile(worker.Path, ["glibc"], _dir.File("alone"), new ReplayOptions(), new PreparationOptions());
        Assert.Contains("replayed from an empty heap", alone.InheritedHeapNote, StringComparison.Ordinal);
        Assert.True(alone.Results[0].Series[0].FootprintBytes < liveAtFork);
    }
}
