using PtReplay.Tests.Allocator;
using System.Text;
using PtReplay.Replay.Parity;
using PtReplay.Cli.Commands;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Parity;

/// <summary>
/// Parity on recordings of real single-thread programs made by the recorder at test time: every address
/// the model returns must equal the one glibc returned to python3, sqlite3, perl and gcc's cc1.
/// </summary>
public sealed class RecordedProgramParityTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-verify-");

    public void Dispose() => _dir.Dispose();

    private List<string> Record(string name, string[] command, Dictionary<string, string>? env = null, string? stdin = null, bool follow = false)
    {
        var environment = CleanEnvironment.With(new Dictionary<string, string> { ["LC_ALL"] = "C" }, env);
        var result = RecordedRun.Run(command, _dir.File(name + ".trace"), environment, RecordedRun.Input(stdin), follow, _dir.Path);
        Assert.Equal(0, result.ExitCode);
        return [result.TracePath, .. result.ChildTraces];
    }

    private static ParityReport Verify(string trace)
    {
        using var reader = TraceReader.Open(trace);
        Assert.NotEqual(0UL, reader.Header.Brk0);
        var report = TraceVerifier.Run(reader).Report;
        return report;
    }

    private static void AssertFullParity(ParityReport report, long atLeast)
    {
        Assert.True(report.First is null, report.First is { } d ? $"event {d.EventIndex} {d.Event}: {d.Reason}\n{d.ModelState}" : "");
        Assert.Null(report.Abort);
        Assert.True(report.Allocations >= atLeast, $"only {report.Allocations} allocations");
        Assert.Equal(report.Allocations, report.Identical);
    }

    /// <remarks>
    /// One tunable per GLIBC_TUNABLES: glibc 2.36's tunables parser NUL-terminates each value inside the copy it
    /// puts back into environ, so a recorder reading environ sees only the first entry. More settings go
    /// through the MALLOC_* aliases.
    /// </remarks>
    [Theory]
    [InlineData("", "")]
    [InlineData("glibc.malloc.tcache_count=0", "MALLOC_TOP_PAD_=0")]
    [InlineData("glibc.malloc.mxfast=0", "MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=0")]
    [InlineData("glibc.malloc.tcache_count=20", "")]
    public void Python_RecordedUnderTunables_FullParity(string tunables, string aliases)
    {
        var env = RealPrograms.PythonEnvironment();
        if (tunables.Length > 0)
            env["GLIBC_TUNABLES"] = tunables;
        foreach (var kv in aliases.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            env[kv[..kv.IndexOf('=', StringComparison.Ordinal)]] = kv[(kv.IndexOf('=', StringComparison.Ordinal) + 1)..];
        string script = "import json, re\nd = {str(i): [i] * (i % 50) for i in range(4000)}\ns = json.dumps(d)\n" +
                        "print(len(s), len(re.findall(r'[0-9]+', s)))\nx = [bytearray(i * 37) for i in range(2000)]\ndel x[::2]\n";
        var traces = Record("py", [RealPrograms.Python, "-c", script], env);
        AssertFullParity(Verify(traces[0]), 100_000);
    }

    [Fact]
    public void Sqlite_FullParity()
    {
        var sql = new StringBuilder("create table t(a integer primary key, b text);\nbegin;\n");
        for (int i = 0; i < 3000; i++)
            sql.Append("insert into t(b) values('").Append(new string((char)('a' + i % 26), i % 300)).Append("');\n");
        sql.Append("commit;\ncreate index tb on t(b);\nselect count(*), sum(length(b)) from t;\ndelete from t where a % 3 = 0;\nvacuum;\n");
        var traces = Record("sqlite", [RealPrograms.Sqlite, ":memory:"], stdin: sql.ToString());
        AssertFullParity(Verify(traces[0]), 10_000);
    }

    [Fact]
    public void Perl_FullParity_ThroughTheVerifyVerb()
    {
        var env = RealPrograms.PerlEnvironment();
        var traces = Record("perl", [RealPrograms.Perl, "-e", "my %h; $h{\"k$_\"} = [$_, 'v' x ($_ % 90)] for 1..60000; delete $h{\"k$_\"} for 1..30000; my @s = sort keys %h; print scalar(@s), \"\\n\";"], env);
        using var reader = TraceReader.Open(traces[0]);
        var output = new StringWriter();
        int exit = VerifyCommand.Run(reader, null, output, TextWriter.Null);
        string text = output.ToString();
        Assert.True(exit == 0, text);
        var last = text.TrimEnd().Split('\n')[^1];
        Assert.StartsWith("parity: ", last, StringComparison.Ordinal);
        var parts = last["parity: ".Length..].Split(' ')[0].Split('/');
        Assert.Equal(parts[0], parts[1]);
        Assert.True(long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) > 100_000);
    }

    [Fact]
    public void GccCompilingACFile_EveryProcessFullParity()
    {
        string source = GlibcDriver.SourcePath;
        var traces = Record("gcc", ["/usr/bin/gcc", "-O2", "-c", source, "-o", _dir.File("driver.o")], follow: true);
        Assert.True(traces.Count >= 2); // gcc and its cc1 (and as)
        long total = 0;
        foreach (var t in traces)
        {
            var report = Verify(t);
            AssertFullParity(report, 0);
            total += report.Allocations;
        }
        Assert.True(total > 20_000);
    }

    [Fact]
    public void VerifyVerb_ReportsTheFirstDivergenceAndFails()
    {
        var traces = Record("sqlite-small", [RealPrograms.Sqlite, ":memory:"], stdin: "create table t(a); insert into t values(1),(2); select * from t;\n");
        using var reader = TraceReader.Open(traces[0]);
        var output = new StringWriter();
        int exit = VerifyCommand.Run(reader, PtReplay.Allocator.Tunables.MallocTunables.Parse("glibc.malloc.tcache_count=0"), output, TextWriter.Null);
        string text = output.ToString();
        Assert.Equal(1, exit); // the recording ran with tcache: without it the model reuses chunks differently
        Assert.Contains("first divergence at event ", text, StringComparison.Ordinal);
        Assert.Contains("top ", text, StringComparison.Ordinal);
        Assert.Matches(@"parity: \d+/\d+ allocations identical\s*$", text);
    }
}
