using PtReplay.Cli.Commands;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Cli;

/// <summary>
/// One exit-code convention for every verb (0 ok, 1 no, 2 usage, 3 input, 4 output, 5 could not run), each
/// failure one line naming the right file, never a stack trace. Runs the real `ptreplay` as a child process.
/// </summary>
public sealed class ExitCodeTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-exit-");
    private static string Sample => RepoFiles.SampleTraces.First(p => p.EndsWith("sqlite.trace", StringComparison.Ordinal));

    public void Dispose() => _dir.Dispose();

    private static void AssertFails(int expected, (int ExitCode, string Stdout, string Stderr) run, params string[] mentions)
    {
        Assert.True(run.ExitCode == expected, $"exit {run.ExitCode}, expected {expected}: {run.Stderr}");
        Assert.DoesNotContain("   at ", run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", run.Stderr, StringComparison.Ordinal);
        foreach (string m in mentions)
        {
            Assert.Contains(m, run.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ADirectoryAsTrace_IsOneInputError_ForEveryVerbThatReadsATrace()
    {
        string folder = _dir.NewFolder("not-a-trace");
        string outDir = _dir.File("out");
        string message = $"{folder}: is a directory, not a trace file";
        AssertFails(3, CliRunner.Run("info", folder), message);
        AssertFails(3, CliRunner.Run("verify", folder), message);
        AssertFails(3, CliRunner.Run("replay", folder, "-o", outDir, "--engine", "sim"), message);
        AssertFails(3, CliRunner.Run("pack", folder, "-o", _dir.File("p.trace")), message);
        AssertFails(3, CliRunner.Run("gate", "--baseline", RepoFiles.Baseline, folder), message);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void AnOutputThatCannotBeWritten_IsBlamedOnTheOutput_Exit4()
    {
        var replay = CliRunner.Run("replay", Sample, "-o", "/dev/null/x", "--engine", "sim");
        AssertFails(4, replay, "/dev/null/x", "/dev/null is a file, not a folder");
        Assert.DoesNotContain(Sample, replay.Stderr, StringComparison.Ordinal);

        AssertFails(4, CliRunner.Run("pack", Sample, "-o", "/dev/null/x.trace"), "/dev/null/x.trace");
        AssertFails(4, CliRunner.Run("pack", Sample, "-o", _dir.Path), "is a directory");
        AssertFails(4, CliRunner.Run("pack", Sample, "-o", "/dev/null"), "/dev/null: is not a regular file");
        AssertFails(4, CliRunner.Run("import-mtrace", Sample, "-o", "/dev/null/x.trace"), "/dev/null/x.trace");
        string summary = Path.Combine(_dir.NewFolder("r"), "summary.json");
        File.WriteAllText(summary, "{}");
        AssertFails(4, CliRunner.Run("report", Path.GetDirectoryName(summary)!, "-o", "/dev/null/r.html"), "/dev/null/r.html");
    }

    [Theory]
    [InlineData("Brotli", "50", "Brotli accepts 0 to 11")]
    [InlineData("Zstd", "23", "Zstd accepts 0 to 22")]
    [InlineData("Zstd", "-1", "Zstd accepts 0 to 22")]
    [InlineData("Deflate", "3", "Deflate accepts -1 to 2")]
    [InlineData("Raw", "1", "Raw accepts 0 to 0")]
    public void PackLevelOutOfRange_IsAUsageError_NamingTheRange(string codec, string level, string message)
    {
        string output = _dir.File("p.trace");
        AssertFails(2, CliRunner.Run("pack", Sample, "-o", output, "--codec", codec, "--level", level), message);
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("replay", "--threads", "bogus", "bogus")]
    [InlineData("replay", "--engine", "nosuch", "known: sim, glibc")]
    [InlineData("replay", "--tunables", "garbage", "glibc.malloc.arena_max")]
    [InlineData("replay", "--tunables", "glibc.malloc.nosuch=5", "unknown tunable 'glibc.malloc.nosuch'")]
    [InlineData("replay", "--tunables", "glibc.malloc.arena_max=-1", "[1, SIZE_MAX]")]
    [InlineData("verify", "--tunables", "garbage", "glibc.malloc.tcache_count")]
    [InlineData("verify", "--tunables", "glibc.malloc.arena_max=-1", "[1, SIZE_MAX]")]
    public void BadOptionValues_AreUsageErrors(string verb, string option, string value, string message)
    {
        string[] args = verb == "replay"
            ? ["replay", Sample, "-o", _dir.File("out"), .. option == "--engine" ? Array.Empty<string>() : ["--engine", "sim"], option, value]
            : [verb, Sample, option, value];
        AssertFails(2, CliRunner.Run(args), message);
        Assert.False(File.Exists(Path.Combine(_dir.File("out"), "summary.json")));
    }

    [Fact]
    public void Replay_AcceptsOutputAndOut_AsTheOtherVerbsDo()
    {
        foreach (string option in new[] { "--output", "--out", "-o" })
        {
            string outDir = _dir.File("o" + option.Trim('-'));
            var run = CliRunner.Run("replay", Sample, option, outDir, "--engine", "sim");
            Assert.True(run.ExitCode == 0, run.Stderr);
            Assert.True(File.Exists(Path.Combine(outDir, "summary.json")));
        }
    }

    [Fact]
    public void RootAndEveryVerbHelp_StateTheConvention()
    {
        Assert.Contains(Flatten(ExitCodes.Help), Flatten(CliRunner.Run("--help").Stdout), StringComparison.Ordinal);
        foreach (string verb in new[] { "record", "replay", "info", "pack", "import-mtrace", "import-lttng", "bench-record", "verify", "report", "compare", "gate", "sweep", "version" })
        {
            var run = CliRunner.Run(verb, "--help");
            Assert.Equal(0, run.ExitCode);
            Assert.Contains("5 an engine or program could not run", Flatten(run.Stdout), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ExceptionsMapToTheConvention()
    {
        Assert.Equal(ExitCodes.BadInput, CliErrors.Classify(new UnauthorizedAccessException("Access to the path '/x/s.trace' is denied.")).Code);
        Assert.Equal(ExitCodes.BadInput, CliErrors.Classify(new TraceCorruptException("s.trace", 12, 3, "bad")).Code);
        Assert.Equal(ExitCodes.OutputFailed, CliErrors.Classify(new IOException("No space left on device", 28)).Code);
        Assert.Equal(ExitCodes.OutputFailed, CliErrors.Classify(new IOException("Read-only file system", 30)).Code);
        Assert.Equal(ExitCodes.BadInput, CliErrors.Classify(new IOException("Input/output error", 5)).Code);
        Assert.Equal(ExitCodes.Usage, CliErrors.Classify(new PtReplay.Allocator.Tunables.InvalidTunablesException("x")).Code);
    }

    private static string Flatten(string help) =>
        string.Join(' ', help.Split((char[])['\n', ' '], StringSplitOptions.RemoveEmptyEntries));
}
