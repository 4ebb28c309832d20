using System.Globalization;
using System.Text;
using PtReplay.Replay.Parity;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Parity;

/// <summary>
/// A `record --stacks` trace is the exact malloc stream glibc saw: the unwinder's own calls on the program's heap (dlopen
/// of libgcc_s and libunwind, their first unwinds, libunwind's per-thread cache that glibc mallocs as dynamic TLS at each
/// thread's first unwind) are events too, in the order glibc served them. So the model returns every address glibc
/// returned to python3, sqlite3 and a multi-thread C program recorded with stacks, as it does for recordings without.
/// </summary>
public sealed class StacksParityTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-stacks-parity-");

    public void Dispose() => _dir.Dispose();

    /// <summary>The unwinder the recorder uses: libunwind (needs libunwind8), or libgcc alone.</summary>
    private static Dictionary<string, string> Environment(string unwinder, Dictionary<string, string>? more = null)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["LC_ALL"] = "C" };
        if (unwinder == "libunwind")
            Requires.Package("libunwind8", "libunwind.so.8");
        else
            env["PTRECORD_UNWIND"] = unwinder;
        return CleanEnvironment.With(env, more);
    }

    private string Record(string name, string[] command, Dictionary<string, string> env, string? stdin = null)
    {
        var result = RecordedRun.Run(command, _dir.File(name + ".trace"), env, RecordedRun.Input(stdin), workingDirectory: _dir.Path, stackDepth: 24);
        Assert.True(result.ExitCode == 0, Encoding.UTF8.GetString(result.StandardError));
        return result.TracePath;
    }

    private static void AssertFullParity(ParityReport report, long atLeast)
    {
        Assert.True(report.First is null, report.First is { } d ? $"event {d.EventIndex} {d.Event}: {d.Reason}\n{d.ModelState}" : "");
        Assert.Null(report.Abort);
        Assert.Equal(0, report.UnknownPointers);
        Assert.True(report.Allocations >= atLeast, $"only {report.Allocations} allocations");
        Assert.Equal(report.Allocations, report.Identical);
    }

    /// <summary>The program's own calls carry stacks: the trace is one recorded with them (version 4, or 5 once a second thread started).</summary>
    private static void AssertStacksRecorded(TraceReader reader, List<AllocEvent> events, int version = TraceFormat.StacksVersion)
    {
        Assert.Equal(version, reader.Header.FormatVersion);
        var allocating = events.Where(e => e.Kind is EventKind.Malloc or EventKind.Calloc or EventKind.Realloc).ToList();
        long withStack = allocating.Count(e => e.Stack != 0);
        Assert.True(withStack > allocating.Count * 9 / 10, $"{withStack} of {allocating.Count} allocating calls have a stack");
    }

    [SkippableTheory]
    [InlineData("libunwind")]
    [InlineData("libgcc")]
    public void Python_RecordedWithStacks_FullParity(string unwinder)
    {
        var env = Environment(unwinder, RealPrograms.PythonEnvironment());
        string script = "import json, re\nd = {str(i): [i] * (i % 50) for i in range(4000)}\ns = json.dumps(d)\n" +
                        "print(len(s), len(re.findall(r'[0-9]+', s)))\nx = [bytearray(i * 37) for i in range(2000)]\ndel x[::2]\n";
        string trace = Record("py", [RealPrograms.Python, "-c", script], env);
        using var reader = TraceReader.Open(trace);
        var events = reader.ReadAll().ToList();
        AssertStacksRecorded(reader, events);
        AssertFullParity(TraceVerifier.Run(reader.Header, events), 100_000);
    }

    [SkippableTheory]
    [InlineData("libunwind")]
    [InlineData("libgcc")]
    public void Sqlite_RecordedWithStacks_FullParity_ThroughTheVerifyVerb(string unwinder)
    {
        var sql = new StringBuilder("create table t(a integer primary key, b text);\nbegin;\n");
        for (int i = 0; i < 3000; i++)
            sql.Append("insert into t(b) values('").Append(new string((char)('a' + i % 26), i % 300)).Append("');\n");
        sql.Append("commit;\ncreate index tb on t(b);\nselect count(*), sum(length(b)) from t;\ndelete from t where a % 3 = 0;\nvacuum;\n");
        string trace = Record("sqlite", [RealPrograms.Sqlite, ":memory:"], Environment(unwinder), sql.ToString());
        using (var reader = TraceReader.Open(trace))
            AssertStacksRecorded(reader, reader.ReadAll().ToList());

        using var again = TraceReader.Open(trace);
        var output = new StringWriter();
        int exit = PtReplay.Cli.Commands.VerifyCommand.Run(again, null, output, TextWriter.Null);
        string text = output.ToString();
        Assert.True(exit == 0, text);
        var m = System.Text.RegularExpressions.Regex.Match(text, @"parity: (\d+)/(\d+) allocations identical\s*$");
        Assert.True(m.Success, text);
        Assert.Equal(m.Groups[2].Value, m.Groups[1].Value);
        Assert.True(long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) > 10_000, text);
    }

    /// <summary>
    /// The bundled multi-thread workload in lockstep (one thread calls the allocator at a time): ten threads, each
    /// unwinding for the first time. With libunwind every worker's first unwind mallocs the thread's copy of libunwind's
    /// cache (dynamic TLS) from the worker's arena, right after the call it unwinds for: that call is the worker's first
    /// event with a stack, and a call without a stack follows it on the same thread.
    /// </summary>
    [SkippableFact]
    public void MultiThreadLockstep_EachThreadsFirstUnwind_FullParity()
    {
        string trace = Record("mt", [NativeArtifacts.Find(NativeArtifacts.MtWorkload), "--lockstep", "3", "150", "5"], Environment("libunwind"));
        using var reader = TraceReader.Open(trace);
        var events = reader.ReadAll().ToList();
        AssertStacksRecorded(reader, events, TraceFormat.MultiThreadOrderVersion);
        var workers = events.Select(e => e.Thread).Distinct().Where(t => t != 0).ToList();
        Assert.Equal(10, workers.Count);
        foreach (int w in workers)
        {
            var own = events.Where(e => e.Thread == w && e.Kind is not (EventKind.ThreadStart or EventKind.ThreadExit or EventKind.Free)).ToList();
            int first = own.FindIndex(e => e.Stack != 0);
            Assert.True(first >= 0 && first + 1 < own.Count && own[first + 1].Stack == 0,
                $"thread {w}: no call without a stack right after its first unwind");
        }

        AssertFullParity(TraceVerifier.Run(reader.Header, events), 2000);
    }
}
