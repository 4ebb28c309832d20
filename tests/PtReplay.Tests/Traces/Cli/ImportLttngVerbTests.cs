using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Import;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>
/// `ptreplay import-lttng` as a user runs it, on real LTTng recordings: threads and processes as babeltrace2
/// reads them, traces without an event context, and every kind of bad input (exit 3 and a message naming it,
/// never a stack trace).
/// </summary>
[Collection(LttngGroup.Name)]
public sealed class ImportLttngVerbTests(LttngTracing lttng)
{
    /// <summary>Two producer-consumer pairs (4 threads besides main), 3,000 blocks per producer, each freed by its consumer.</summary>
    private static readonly string[] Workload = [NativeArtifacts.Find(NativeArtifacts.MtWorkload), "4", "3000"];

    private static void AssertCleanFailure((int ExitCode, string Stdout, string Stderr) run, params string[] mentions) =>
        AssertCleanFailure(3, run, mentions);

    private static void AssertCleanFailure(int exitCode, (int ExitCode, string Stdout, string Stderr) run, params string[] mentions)
    {
        Assert.True(run.ExitCode == exitCode, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.StartsWith("ptreplay import-lttng: ", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        foreach (string m in mentions)
        {
            Assert.Contains(m, run.Stderr, StringComparison.Ordinal);
        }
    }

    private static List<(int Tid, AllocEvent Event)> Events(string trace)
    {
        using TraceReader reader = TraceReader.Open(trace);
        return [.. reader.ReadAll().Select(e => (reader.ThreadTids[e.Thread], e with { Thread = 0 }))];
    }

    [Fact]
    public void Help_TeachesHowToRecord()
    {
        var (code, stdout, _) = CliRunner.Run("import-lttng", "--help");
        Assert.Equal(0, code);
        foreach (string step in new[] { "lttng create", "lttng enable-event -u", "lttng_ust_libc:*", "lttng add-context -u", "-t vtid",
            "-t procname", "channel0",
            "LD_PRELOAD=liblttng-ust-libc-wrapper.so", "lttng destroy", "aligned_alloc" })
        {
            Assert.Contains(step, stdout, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public void MultiThreadProgram_KeepsItsThreads_AndSaysWhatTheTraceCannotHold()
    {
        using var dir = new TempDir("ptrec-lttng-mt-");
        string traceDir = lttng.Record(dir.Path, Workload);
        string trace = dir.File("mt.trace");
        var (code, _, stderr) = CliRunner.Run("import-lttng", traceDir, "-o", trace);
        Assert.True(code == 0, stderr);
        Assert.Contains($"{trace}: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("warning", stderr, StringComparison.Ordinal);
        Assert.Contains("cannot contain aligned_alloc", stderr, StringComparison.Ordinal);
        List<(int Tid, AllocEvent Event)> fromCtf = Events(trace);
        Assert.True(fromCtf.Select(e => e.Tid).Distinct().Count() >= 5, "main and four workers");
        var (infoCode, info, infoErr) = CliRunner.Run("info", trace);
        Assert.True(infoCode == 0, infoErr);
        Assert.Contains("ptreplay import-lttng", info, StringComparison.Ordinal);

        // The verb writes what babeltrace2 reads from the same trace.
        LttngImportResult oracle = BabeltraceOracle.Import(traceDir, dir.File("oracle.trace"));
        Assert.True(fromCtf.SequenceEqual(Events(oracle.Processes[0].Path)), "the verb's import differs from babeltrace2's reading");
    }

    [SkippableFact]
    public void WithoutVtid_EverythingIsOneThread_AndTheVerbSaysSo()
    {
        using var dir = new TempDir("ptrec-lttng-novtid-");
        string traceDir = lttng.Record(dir.Path, Workload, contexts: []);
        string trace = dir.File("mt.trace");
        var (code, _, stderr) = CliRunner.Run("import-lttng", traceDir, "-o", trace);
        Assert.True(code == 0, stderr);
        Assert.Contains("no vtid context", stderr, StringComparison.Ordinal);
        Assert.Contains(LttngCtfReader.AddContextCommand, stderr, StringComparison.Ordinal);
        using TraceReader reader = TraceReader.Open(trace);
        int events = reader.ReadAll().Count();
        Assert.True(events >= 2 * 2 * 3000, $"the workers' calls are all there ({events} events)");
        Assert.Equal([LttngImporter.FallbackTid], reader.ThreadTids);
        Assert.Equal(0, reader.Header.Pid);
    }

    [SkippableFact]
    public void ChildProcesses_GoToFilesOfTheirOwn()
    {
        // sh and its two sort children all run with the wrapper preloaded: three vpids in one LTTng trace.
        using var dir = new TempDir("ptrec-lttng-procs-");
        File.WriteAllLines(dir.File("words.txt"), Enumerable.Range(0, 2000).Select(i => ((i * 7919) % 2000).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        string traceDir = lttng.Record(dir.Path, ["/bin/sh", "-c", "/usr/bin/sort words.txt > a.txt; /usr/bin/sort -r words.txt > b.txt; exit 0"]);
        string trace = dir.File("sh.trace");
        LttngImportResult result = LttngImporter.Import(traceDir, trace);

        Assert.Equal(3, result.Processes.Count);
        BabeltraceOracle.AssertSameImport(BabeltraceOracle.Import(traceDir, dir.File("sh-oracle.trace")), result);
        Assert.Equal(trace, result.Processes[0].Path);
        Assert.Equal(3, result.Processes.Select(p => p.Pid).Distinct().Count());
        foreach (LttngImportedProcess p in result.Processes.Skip(1))
        {
            Assert.Equal($"{trace}.{p.Pid}", p.Path);
        }

        foreach (LttngImportedProcess p in result.Processes)
        {
            using TraceReader reader = TraceReader.Open(p.Path);
            Assert.Equal(p.Events, reader.ReadAll().Count());
            Assert.Equal(p.Pid, reader.Header.Pid);
            Assert.Equal(p.Pid, reader.ThreadTids[0]);   // each process's first thread is its main thread
        }
    }

    [Fact]
    public void MissingOrEmptyFolder_FailsNamingIt()
    {
        using var dir = new TempDir("ptrec-lttng-bad-");
        string missing = dir.File("no-such-trace");
        AssertCleanFailure(CliRunner.Run("import-lttng", missing, "-o", dir.File("x.trace")), missing, "no such folder");
        string empty = dir.NewFolder("empty");
        AssertCleanFailure(CliRunner.Run("import-lttng", empty, "-o", dir.File("x.trace")), empty, "no user-space CTF trace");
        Assert.False(File.Exists(dir.File("x.trace")));
    }

    [SkippableFact]
    public void TraceWithoutLibcEvents_FailsSayingWhatToEnable()
    {
        using var dir = new TempDir("ptrec-lttng-nolibc-");
        string traceDir = lttng.Record(dir.Path, ["/usr/bin/true"], events: "lttng_ust_tracef:*");
        AssertCleanFailure(CliRunner.Run("import-lttng", traceDir, "-o", dir.File("x.trace")),
            traceDir, "no lttng_ust_libc events", "lttng enable-event -u 'lttng_ust_libc:*'");
        Assert.False(File.Exists(dir.File("x.trace")));
    }

    [SkippableFact]
    public void DamagedChannelFile_FailsNamingTheFile()
    {
        using var dir = new TempDir("ptrec-lttng-damaged-");
        string traceDir = lttng.Record(dir.Path, ["/usr/bin/true"]);
        string channel = Directory.EnumerateFiles(traceDir, "channel0_*", SearchOption.AllDirectories).OrderByDescending(f => new FileInfo(f).Length).First();
        using (var f = new FileStream(channel, FileMode.Open))
        {
            f.SetLength(f.Length / 2 + 7);   // cut inside a packet
        }

        AssertCleanFailure(CliRunner.Run("import-lttng", traceDir, "-o", dir.File("x.trace")), channel, "byte offset", "cut short");
        Assert.False(File.Exists(dir.File("x.trace")));
    }

    [SkippableFact]
    public void TemporaryZipThatCannotBeWritten_IsAnOutputFailure_NamingTMPDIR()
    {
        using var dir = new TempDir("ptrec-lttng-tmpdir-");
        string traceDir = lttng.Record(dir.Path, ["/usr/bin/true"]);
        string noRoom = dir.File("no-such-folder");
        var run = CliRunner.RunWith(new Dictionary<string, string> { ["TMPDIR"] = noRoom }, "import-lttng", traceDir, "-o", dir.File("x.trace"));
        AssertCleanFailure(4, run, noRoom, "TMPDIR");
        Assert.False(File.Exists(dir.File("x.trace")));
    }
}
