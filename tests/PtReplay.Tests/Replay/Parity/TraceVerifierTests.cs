using PtReplay.Tests.Allocator;
using PtReplay.Cli.Commands;
using PtReplay.Replay.Parity;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Parity;

/// <summary>
/// The verify logic on traces made from real glibc runs: the driver's script plus the addresses glibc
/// returned become a trace (what the recorder would have written), which must replay at 100% parity;
/// a trace with one falsified address must report exactly that event as the first divergence.
/// </summary>
public class TraceVerifierTests
{
    private static (TraceHeader Header, List<AllocEvent> Events) TraceFromGlibc(DriverScript script, string tunables = "")
    {
        var env = new Dictionary<string, string>();
        if (tunables.Length > 0)
            env["GLIBC_TUNABLES"] = tunables;
        var real = GlibcDriver.Execute(script, env);
        var header = new TraceHeader { Brk0 = real.Brk0, OnlineCpus = Environment.ProcessorCount, GlibcVersion = "2.36" };
        if (tunables.Length > 0)
            header.MallocEnvironment.Add("GLIBC_TUNABLES=" + tunables);
        var slots = new ulong[script.Slots];
        var events = new List<AllocEvent>();
        for (int i = 0; i < script.Calls.Count; i++)
        {
            var c = script.Calls[i];
            ulong r = real.PerCall[i][0];
            var e = new AllocEvent { Thread = c.Thread, Count = 1 };
            switch (c.Op)
            {
                case DriverOp.Malloc: e.Kind = EventKind.Malloc; e.Size = c.A; break;
                case DriverOp.Calloc: e.Kind = EventKind.Calloc; e.Count = c.A; e.Size = c.B; break;
                case DriverOp.Realloc: e.Kind = EventKind.Realloc; e.Ptr = slots[c.Slot]; e.Size = c.A; break;
                case DriverOp.ReallocArray: e.Kind = EventKind.ReallocArray; e.Ptr = slots[c.Slot]; e.Count = c.A; e.Size = c.B; break;
                case DriverOp.Free: e.Kind = EventKind.Free; e.Ptr = slots[c.Slot]; e.Count = 0; break;
                case DriverOp.Memalign: e.Kind = EventKind.Memalign; e.Alignment = c.A; e.Size = c.B; break;
                case DriverOp.AlignedAlloc: e.Kind = EventKind.AlignedAlloc; e.Alignment = c.A; e.Size = c.B; break;
                case DriverOp.PosixMemalign: e.Kind = EventKind.PosixMemalign; e.Alignment = c.A; e.Size = c.B; e.Status = (int)real.PerCall[i][2]; break;
                case DriverOp.Valloc: e.Kind = EventKind.Valloc; e.Size = c.A; break;
                case DriverOp.Pvalloc: e.Kind = EventKind.Pvalloc; e.Size = c.A; break;
                case DriverOp.ThreadExit: e.Kind = EventKind.ThreadExit; break;
                case DriverOp.Usable or DriverOp.MallInfo: continue;
                default: throw new InvalidOperationException($"{c.Op} has no trace event");
            }
            if (e.Kind.Allocates())
                e.Result = r;
            events.Add(e);
            if (c.Op == DriverOp.Free)
                slots[c.Slot] = 0;
            else if (e.Kind.Allocates() && (r != 0 || (c.Op == DriverOp.Realloc && c.A == 0)))
                slots[c.Slot] = r;
        }
        return (header, events);
    }

    [Theory]
    [InlineData(61, "")]
    [InlineData(62, "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0")]
    public void TraceOfGlibcRun_ReplaysAtFullParity(int seed, string tunables)
    {
        var (header, events) = TraceFromGlibc(ScriptGenerator.Random(seed, 3000, trim: false), tunables);
        var report = TraceVerifier.Run(header, events);
        Assert.True(report.First is null, report.First?.ToString());
        Assert.True(report.FullParity);
        Assert.True(report.Allocations > 1000);
        Assert.Equal($"parity: {report.Allocations}/{report.Allocations} allocations identical", report.Summary);
    }

    [Fact]
    public void MultiThreadTrace_ReplaysAtFullParity()
    {
        var script = ThreadScriptGenerator.Random(63, 4, 3000);
        script.Calls.RemoveAll(c => c.Op == DriverOp.MallInfo);
        var (header, events) = TraceFromGlibc(script);
        // pthread_create's DTV callocs happen before the script in the creating (main) thread
        ulong brk0 = header.Brk0;
        var prefix = new List<AllocEvent>();
        var model = new PtReplay.Allocator.Ptmalloc(new PtReplay.Allocator.ModelOptions { Brk0 = brk0 });
        for (int t = 1; t < script.Threads; t++)
            prefix.Add(new AllocEvent { Kind = EventKind.Calloc, Count = ParityHarness.DtvCount, Size = ParityHarness.DtvSize, Result = model.Calloc(0, ParityHarness.DtvCount, ParityHarness.DtvSize) });
        prefix.AddRange(events);
        var report = TraceVerifier.Run(header, prefix);
        Assert.True(report.First is null, report.First?.ToString());
        Assert.True(report.FullParity);
    }

    [Fact]
    public void FalsifiedAddress_IsReportedAsFirstDivergence()
    {
        var (header, events) = TraceFromGlibc(ScriptGenerator.Random(64, 1500, trim: false));
        int victim = events.FindIndex(400, e => e.Kind == EventKind.Malloc && e.Result > header.Brk0 && e.Result - header.Brk0 < (1UL << 30));
        var bad = events[victim];
        bad.Result += 16;
        events[victim] = bad;
        var report = TraceVerifier.Run(header, events);
        Assert.NotNull(report.First);
        Assert.True(victim == report.First!.EventIndex, $"expected {victim}: {report.First}");
        Assert.False(report.FullParity);
        Assert.Contains("top", report.First.ModelState, StringComparison.Ordinal);
    }

    /// <summary>
    /// A free of a pointer the trace never returned, a second free of a freed block (what a recorder started late or a
    /// buggy program leaves) and a call after its thread's exit: verify skips them, counts them, and every allocation still
    /// matches glibc's.
    /// </summary>
    [Fact]
    public void UnknownAndDoubleFrees_AreCountedAndSkipped_TheRestKeepsFullParity()
    {
        var (header, events) = TraceFromGlibc(ScriptGenerator.Random(65, 1500, trim: false));
        ParityReport clean = TraceVerifier.Run(header, events);
        Assert.True(clean.FullParity, clean.First?.ToString());

        int freed = events.FindIndex(400, e => e.Kind == EventKind.Free && e.Ptr != 0);
        var bad = new List<AllocEvent>(events);
        bad.Insert(freed + 1, events[freed]);                                                      // double free
        bad.Insert(200, new AllocEvent { Kind = EventKind.Free, Ptr = header.Brk0 + (1UL << 40) }); // never returned
        // A call after its thread's exit (a reader numbers a tid's later calls as a new thread, an event stream need not).
        List<AllocEvent> afterExit = [.. bad, new AllocEvent { Kind = EventKind.ThreadExit, Thread = 1, Size = 1001 },
            new AllocEvent { Kind = EventKind.Malloc, Thread = 1, Size = 40, Count = 1 }];
        ParityReport report = TraceVerifier.Run(header, afterExit);
        Assert.True(report.FullParity, report.First?.ToString());
        Assert.Equal(2, report.UnknownPointers);
        Assert.Equal(1, report.SkippedEvents);
        Assert.Equal(clean.Allocations, report.Allocations);

        // Through the verb, from a trace file: the skipped calls are named, the parity line is full, exit 0.
        using var dir = new TempDir("ptreplay-badverify-");
        string path = dir.File("bad.trace");
        using (TraceWriter w = TraceWriter.Create(path, header))
        {
            w.DeclareThread(0, 1000);
            foreach (AllocEvent e in bad)
            {
                w.Write(e);
            }

            w.Complete();
        }

        using var reader = TraceReader.Open(path);
        var output = new StringWriter();
        int exit = VerifyCommand.Run(reader, null, output, TextWriter.Null);
        string text = output.ToString();
        Assert.True(exit == 0, text);
        Assert.Contains("2 free/realloc of pointers the trace never returned (skipped)", text, StringComparison.Ordinal);
        Assert.Contains($"parity: {clean.Allocations}/{clean.Allocations} allocations identical", text, StringComparison.Ordinal);
    }

    /// <summary>A divergence found by the sim engine's address check names the recorded event, as the trace file has it.</summary>
    [Fact]
    public void FalsifiedAddress_InATraceFile_IsNamedAsRecorded()
    {
        var (header, events) = TraceFromGlibc(ScriptGenerator.Random(66, 1500, trim: false));
        int victim = events.FindIndex(400, e => e.Kind == EventKind.Malloc && e.Result > header.Brk0 && e.Result - header.Brk0 < (1UL << 30));
        var bad = events[victim];
        bad.Result += 16;
        events[victim] = bad;
        using var dir = new TempDir("ptreplay-divverify-");
        string path = dir.File("div.trace");
        using (TraceWriter w = TraceWriter.Create(path, header))
        {
            w.DeclareThread(0, 1000);
            foreach (AllocEvent e in events)
            {
                w.Write(e);
            }

            w.Complete();
        }

        using var reader = TraceReader.Open(path);
        var output = new StringWriter();
        Assert.Equal(1, VerifyCommand.Run(reader, null, output, TextWriter.Null));
        Assert.Contains($"first divergence at event {victim}: {bad}", output.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Arbitrary event streams (every kind, extreme sizes and alignments, pointers never returned, markers anywhere) and
    /// the same streams freeing what they allocated twice: verify always ends with a report, never with an exception.
    /// </summary>
    [Theory]
    [Trait("Category", "Fast")]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ArbitraryEvents_AlwaysEndInAReport(int seed)
    {
        var header = new TraceHeader { Brk0 = 0x5555_5555_0000, OnlineCpus = 2, GlibcVersion = "2.36" };
        AllocEvent[] random = PtReplay.Tests.Traces.RandomEvents.Generate(seed, 4000, 3);
        ParityReport report = TraceVerifier.Run(header, random);
        Assert.True(report.Allocations <= random.Count(e => e.Kind.Allocates()));

        // Then a thread that never exited frees every returned address twice: at least the second free of each is bad
        // (a double free, or a pointer that was not live), and is counted.
        var twice = new List<AllocEvent>(random);
        int freer = random.Max(e => e.Thread) + 1;
        long pairs = 0;
        foreach (AllocEvent e in random.Reverse().Where(e => e.Kind.Allocates() && e.Result != 0))
        {
            var free = new AllocEvent { Kind = EventKind.Free, Thread = freer, Ptr = e.Result, Timestamp = e.Timestamp };
            twice.Add(free);
            twice.Add(free);
            pairs++;
        }

        ParityReport doubled = TraceVerifier.Run(header, twice);
        Assert.True(pairs > 100, $"{pairs} blocks");
        Assert.True(doubled.UnknownPointers >= report.UnknownPointers + pairs, $"{doubled.UnknownPointers} bad frees counted, {report.UnknownPointers} + {pairs} expected at least");
    }
}
