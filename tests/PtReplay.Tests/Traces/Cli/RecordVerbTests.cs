using System.Text.Json;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>`ptreplay record -w NAME`: a bundled workload, recorded with its settings and its input.</summary>
public class RecordVerbTests
{
    [Fact]
    public void ABundledWorkload_IsRecordedWithItsInput()
    {
        using var dir = new TempDir();
        string trace = dir.File("sqlite.trace");
        (int code, string stdout, string stderr) = CliRunner.Run("record", "-o", trace, "-w", "sqlite");
        Assert.True(code == 0, stderr);
        Assert.NotEmpty(stdout); // sqlite3 printed its query results: the SQL reached its stdin
        using TraceReader reader = TraceReader.Open(trace);
        Assert.False(reader.IsTruncated);
        Assert.True(reader.ReadAll().Count(e => e.Kind.IsCall()) > 100_000);
    }

    [Theory]
    [InlineData("-w", "nosuch")]
    [InlineData("-w", "sqlite", "--", "/bin/true")]
    [InlineData]
    public void NeitherOrBothOrAnUnknownWorkload_IsRefused(params string[] args)
    {
        using var dir = new TempDir();
        (int code, _, string stderr) = CliRunner.Run(["record", "-o", dir.File("x.trace"), .. args]);
        Assert.Equal(2, code);
        Assert.Contains("ptreplay record:", stderr, StringComparison.Ordinal);
    }
}

/// <summary>`ptreplay record` of a process tree prints the tree; `info --json` says where each trace comes from.</summary>
public class RecordTreeVerbTests
{
    [Fact]
    public void AShellPipeline_PrintsItsTree_AndInfoLinksEachChildToItsParent()
    {
        using var dir = new TempDir();
        string trace = dir.File("sh.trace");
        // No PATH in the environment: the shell walks its default path (failed execs first) for each stage.
        (int code, string stdout, string stderr) = CliRunner.Run("record", "-o", trace, "--", "/bin/sh", "-c", "seq 1 20000 | sort -n | tail -1");
        Assert.True(code == 0, stderr);
        Assert.Equal("20000\n", stdout);
        Assert.Contains("process tree (7 traces)", stderr, StringComparison.Ordinal);
        Assert.Contains(": /bin/sh -c seq 1 20000 | sort -n | tail -1", stderr, StringComparison.Ordinal);
        foreach (string stage in new[] { "seq 1 20000", "sort -n", "tail -1" })
        {
            Assert.Matches($@"└─ sh\.trace\.\d+\.1  exec, pid \d+, [\d,]+ events: {stage}\n", stderr);
        }

        Assert.Equal(3, System.Text.RegularExpressions.Regex.Count(stderr, @"sh\.trace\.\d+  fork at parent event \d+, "));

        using JsonDocument root = Info(trace);
        int rootPid = root.RootElement.GetProperty("pid").GetInt32();
        Assert.Equal("program", root.RootElement.GetProperty("origin").GetString());
        Assert.Equal(JsonValueKind.Null, root.RootElement.GetProperty("fork").ValueKind);

        string child = PtReplay.Traces.Recording.Recorder.FindChildTraces(trace)[0]; // OUT.<pid> of the first stage
        using JsonDocument forked = Info(child);
        JsonElement f = forked.RootElement;
        Assert.Equal("fork", f.GetProperty("origin").GetString());
        Assert.Equal(rootPid, f.GetProperty("parent_pid").GetInt32());
        Assert.Equal(trace, f.GetProperty("parent_trace").GetString());
        Assert.Equal("/bin/sh -c seq 1 20000 | sort -n | tail -1", f.GetProperty("command_line").GetString());
        long markerIndex = f.GetProperty("fork").GetProperty("marker_index").GetInt64();
        long parentEvents = f.GetProperty("fork").GetProperty("parent_events").GetInt64();
        Assert.InRange(parentEvents, 1, markerIndex);
        // The parent's event at marker_index is the fork marker naming this child.
        using TraceReader parent = TraceReader.Open(trace);
        AllocEvent marker = parent.ReadAll().ElementAt((int)markerIndex);
        Assert.Equal(EventKind.Fork, marker.Kind);
        Assert.Equal((ulong)f.GetProperty("pid").GetInt32(), marker.Size);

        using JsonDocument execd = Info(child + ".1");
        Assert.Equal("exec", execd.RootElement.GetProperty("origin").GetString());
        Assert.Equal(child, execd.RootElement.GetProperty("parent_trace").GetString());
    }

    private static JsonDocument Info(string trace)
    {
        (int code, string stdout, string stderr) = CliRunner.Run("info", trace, "--json");
        Assert.True(code == 0, stderr);
        return JsonDocument.Parse(stdout);
    }
}
