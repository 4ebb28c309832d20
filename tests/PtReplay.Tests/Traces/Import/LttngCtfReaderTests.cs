using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;
using PtReplay.Traces.Import;

namespace PtReplay.Tests.Traces.Import;

/// <summary>
/// import-lttng reads CTF with TraceEvent's reader; babeltrace2, the reference reader, is the oracle: real
/// programs recorded with LTTng import to the same traces both ways, event for event. And the recordings the
/// reader cannot take (a context without procname, a renamed channel, a libc event with other fields) fail
/// with a message that says what to change, before the reader is run.
/// </summary>
[Collection(LttngGroup.Name)]
public sealed class LttngCtfReaderTests(LttngTracing lttng)
{
    private static void AssertCleanFailure((int ExitCode, string Stdout, string Stderr) run, params string[] mentions)
    {
        Assert.True(run.ExitCode == 3, $"exit {run.ExitCode}: {run.Stderr}");
        Assert.StartsWith("ptreplay import-lttng: ", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        foreach (string m in mentions)
        {
            Assert.Contains(m, run.Stderr, StringComparison.Ordinal);
        }
    }

    private static (LttngImportResult Ctf, LttngImportResult Oracle) ImportBothWays(string dir, string traceDir)
    {
        LttngImportResult ctf = LttngImporter.Import(traceDir, Path.Combine(dir, "ctf.trace"));
        LttngImportResult oracle = BabeltraceOracle.Import(traceDir, Path.Combine(dir, "oracle.trace"));
        return (ctf, oracle);
    }

    [SkippableFact]
    public void SingleThreadProgram_ImportsAsBabeltraceReadsIt()
    {
        using var dir = new TempDir("ptrec-ctf-py-");
        string traceDir = lttng.Record(dir.Path,
            [RealPrograms.Python, "-c", "import json; d = [{'k': i, 's': str(i) * (i % 7)} for i in range(3000)]; print(len(json.dumps(d)))"],
            RealPrograms.PythonEnvironment());
        (LttngImportResult ctf, LttngImportResult oracle) = ImportBothWays(dir.Path, traceDir);

        Assert.True(ctf.Events > 1000, $"only {ctf.Events} events");
        Assert.Equal(1, Assert.Single(ctf.Processes).Threads);
        BabeltraceOracle.AssertSameImport(oracle, ctf);
    }

    [SkippableFact]
    public void MultiThreadProgram_ImportsAsBabeltraceReadsIt()
    {
        using var dir = new TempDir("ptrec-ctf-mt-");
        string traceDir = lttng.Record(dir.Path, [NativeArtifacts.Find(NativeArtifacts.MtWorkload), "4", "3000"]);
        (LttngImportResult ctf, LttngImportResult oracle) = ImportBothWays(dir.Path, traceDir);

        Assert.True(Assert.Single(ctf.Processes).Threads >= 5, "main and four workers");
        BabeltraceOracle.AssertSameImport(oracle, ctf);
    }

    [SkippableFact]
    public void PerProcessBuffers_OneFolderPerProcess_ImportAsBabeltraceReadsThem()
    {
        // sh and its two sort children in per-process buffers: three trace folders, each with its own clock offset,
        // read one after another; the process with the earliest event still goes to OUT.
        using var dir = new TempDir("ptrec-ctf-pid-");
        File.WriteAllLines(dir.File("words.txt"), Enumerable.Range(0, 2000).Select(i => ((i * 7919) % 2000).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        string traceDir = lttng.Record(dir.Path, ["/bin/sh", "-c", "/usr/bin/sort words.txt > a.txt; /usr/bin/sort -r words.txt > b.txt; exit 0"],
            perProcessBuffers: true);
        Assert.Equal(3, LttngImporter.FindTraceFolders(traceDir).Count);
        (LttngImportResult ctf, LttngImportResult oracle) = ImportBothWays(dir.Path, traceDir);

        Assert.Equal(3, ctf.Processes.Count);
        BabeltraceOracle.AssertSameImport(oracle, ctf);
    }

    [SkippableFact]
    public void PlainTextMetadata_ReadsAsThePacketizedOne()
    {
        using var dir = new TempDir("ptrec-ctf-plain-");
        string traceDir = lttng.Record(dir.Path, ["/usr/bin/true"]);
        LttngImportResult packetized = LttngImporter.Import(traceDir, dir.File("oracle.trace"));
        string metadata = Assert.Single(Directory.GetFiles(traceDir, "metadata", SearchOption.AllDirectories));
        File.WriteAllText(metadata, CtfMetadataText.Read(metadata));

        LttngImportResult plain = LttngImporter.Import(traceDir, dir.File("ctf.trace"));
        BabeltraceOracle.AssertSameImport(packetized, plain);
    }

    [SkippableFact]
    public void TheTemporaryZip_IsGoneAfterTheImport()
    {
        // The reader takes a zip: the verb writes one to TMPDIR and deletes it when done.
        using var dir = new TempDir("ptrec-ctf-zip-");
        string traceDir = lttng.Record(dir.Path, ["/usr/bin/true"]);
        string tmp = dir.NewFolder("tmp");
        string dll = Path.Combine(AppContext.BaseDirectory, "ptreplay.dll");
        var env = new Dictionary<string, string> { ["TMPDIR"] = tmp, ["HOME"] = dir.Path };
        if (Environment.GetEnvironmentVariable("DOTNET_ROOT") is { } root)
        {
            env["DOTNET_ROOT"] = root;
        }

        var (code, _, stderr) = ChildProcess.Run(Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet",
            [dll, "import-lttng", traceDir, "-o", dir.File("x.trace")], env);
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(dir.File("x.trace")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp));
    }

    [SkippableFact]
    public void ContextWithoutProcname_FailsSayingWhatToRecord()
    {
        using var dir = new TempDir("ptrec-ctf-vtid-");
        string traceDir = lttng.Record(dir.Path, ["/usr/bin/true"], contexts: ["vtid", "vpid"]);
        AssertCleanFailure(CliRunner.Run("import-lttng", traceDir, "-o", dir.File("x.trace")),
            "metadata", "without procname", LttngCtfReader.AddContextCommand);
        Assert.False(File.Exists(dir.File("x.trace")));
    }

    [SkippableFact]
    public void RenamedChannel_FailsSayingToKeepTheDefaultName()
    {
        using var dir = new TempDir("ptrec-ctf-chan-");
        string traceDir = lttng.Record(dir.Path, ["/usr/bin/true"], channel: "libc");
        AssertCleanFailure(CliRunner.Run("import-lttng", traceDir, "-o", dir.File("x.trace")), "libc_0", "channel0");
        Assert.False(File.Exists(dir.File("x.trace")));
    }

    [SkippableFact]
    public void LibcEventWithOtherFields_FailsNamingTheEventAndFields()
    {
        using var dir = new TempDir("ptrec-ctf-fields-");
        string traceDir = lttng.Record(dir.Path, ["/usr/bin/true"]);
        string metadata = Assert.Single(Directory.GetFiles(traceDir, "metadata", SearchOption.AllDirectories));
        File.WriteAllText(metadata, CtfMetadataText.Read(metadata).Replace("} _ptr;", "} _address;", StringComparison.Ordinal));
        AssertCleanFailure(CliRunner.Run("import-lttng", traceDir, "-o", dir.File("x.trace")), metadata, "lttng_ust_libc:", "_address");
        Assert.False(File.Exists(dir.File("x.trace")));
    }
}
