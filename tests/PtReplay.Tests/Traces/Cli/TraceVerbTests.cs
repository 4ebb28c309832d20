using System.Text.Json;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>The info, pack and import-mtrace verbs, run as the real command line.</summary>
public sealed class TraceVerbTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-verbs-");

    public void Dispose() => _dir.Dispose();

    private string WriteTrace(string name, AllocEvent[] events, bool complete = true)
    {
        string path = _dir.File(name);
        File.WriteAllBytes(path, TraceFiles.Write(TraceRoundTripTests.Header(), events, [10, 11, 12], new TraceWriterOptions { EventsPerBlock = 500 }, complete));
        return path;
    }

    [Fact]
    public void InfoJson_HasEveryDocumentedKey_AndTheTracesCounts()
    {
        AllocEvent[] events = RandomEvents.Generate(21, 3000, 3);
        string trace = WriteTrace("a.trace", events);

        (int code, string stdout, string stderr) = CliRunner.Run("info", trace, "--json");

        Assert.True(code == 0, stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout);
        JsonElement root = doc.RootElement;
        Assert.Equal(events.Length, root.GetProperty("events").GetInt64());
        Assert.Equal(events.Select(e => e.Thread).Distinct().Count(), root.GetProperty("threads").GetInt32());
        JsonElement counts = root.GetProperty("counts");
        foreach (EventKind kind in EventKinds.Calls)
        {
            Assert.Equal(events.Count(e => e.Kind == kind), counts.GetProperty(kind.CName()).GetInt64());
        }

        Assert.Equal(10, counts.EnumerateObject().Count());
        Assert.Equal(events.Max(e => e.Timestamp) - events.Min(e => e.Timestamp), root.GetProperty("duration_ns").GetInt64());
        Assert.False(root.GetProperty("truncated").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("corrupt").ValueKind);
        Assert.True(root.GetProperty("peak_live_bytes").GetUInt64() > 0);
        Assert.Equal(JsonValueKind.Object, root.GetProperty("anomalies").ValueKind);
        Assert.Equal(events.Count(e => e.Kind.Allocates()), root.GetProperty("size_histogram").EnumerateArray().Sum(b => b.GetProperty("count").GetInt64()));
    }

    [Fact]
    public void InfoText_OnATruncatedTrace_SaysTruncated()
    {
        string trace = WriteTrace("t.trace", RandomEvents.Generate(3, 800, 1), complete: false);
        (int code, string stdout, _) = CliRunner.Run("info", trace);
        Assert.Equal(0, code);
        Assert.Contains("truncated at byte offset", stdout, StringComparison.Ordinal);
        Assert.Contains("malloc", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Info_OnACorruptTrace_Exits3_NamingFileOffsetAndEventIndex()
    {
        string trace = WriteTrace("c.trace", RandomEvents.Generate(4, 3000, 2));
        byte[] bytes = File.ReadAllBytes(trace);
        TraceFiles.BlockInfo bad = TraceFiles.Blocks(bytes)[2];
        bytes[bad.Offset + 40] ^= 0x55;
        File.WriteAllBytes(trace, bytes);

        (int code, _, string stderr) = CliRunner.Run("info", trace, "--json");

        Assert.Equal(3, code);
        Assert.Contains(trace, stderr, StringComparison.Ordinal);
        Assert.Contains($"byte offset {bad.Offset}", stderr, StringComparison.Ordinal);
        Assert.Contains("event index 1000", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Info_MissingFile_Exits3_AndNoArgument_Exits2()
    {
        (int code, _, string stderr) = CliRunner.Run("info", _dir.File("nope.trace"));
        Assert.Equal(3, code);
        Assert.Contains("nope.trace", stderr, StringComparison.Ordinal);
        Assert.Equal(2, CliRunner.Run("info").ExitCode);
    }

    [Fact]
    public void Pack_RawRecording_GivesTheSameEventsInFewerBytes()
    {
        AllocEvent[] a = RandomEvents.Generate(5, 1500, 1), b = RandomEvents.Generate(6, 1500, 1);
        for (int i = 0; i < a.Length; i++)
        {
            a[i].Timestamp = i * 10;
            b[i].Timestamp = (i * 10) + 5;
        }

        (byte[] raw, _) = RawRecording.Write(TraceRoundTripTests.Header(), [(300, a), (301, b)], 100, 1);
        string input = _dir.File("raw.trace"), output = _dir.File("packed.trace");
        File.WriteAllBytes(input, raw);

        (int code, _, string stderr) = CliRunner.Run("pack", input, "-o", output);

        Assert.True(code == 0, stderr);
        Assert.Contains("bytes/event", stderr, StringComparison.Ordinal);
        using TraceReader before = TraceReader.Open(input);
        using TraceReader after = TraceReader.Open(output);
        Assert.Equal(before.ReadAll().ToList(), after.ReadAll().ToList());
        Assert.Equal(before.ThreadTids, after.ThreadTids);
        Assert.True(before.IsMerged);
        Assert.False(after.IsMerged);
        Assert.False(after.IsTruncated);
        Assert.True(new FileInfo(output).Length < new FileInfo(input).Length);
    }

    [Fact]
    public void ImportMtrace_BadLine_Exits3_NamingFileAndLine()
    {
        string mtrace = _dir.File("bad.mtrace");
        File.WriteAllText(mtrace, "= Start\n@ ./x:[0x10] + 0x10 0x8\n@ ./x:[0x11] ? 0x10\n= End\n");
        (int code, _, string stderr) = CliRunner.Run("import-mtrace", mtrace, "-o", _dir.File("x.trace"));
        Assert.Equal(3, code);
        Assert.Contains($"{mtrace}:3:", stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir.Path, "x.trace*"));
    }

    [Fact]
    public void Help_OfEachVerb_TeachesWithExamples()
    {
        foreach (string verb in new[] { "info", "pack", "import-mtrace" })
        {
            (int code, string stdout, _) = CliRunner.Run(verb, "--help");
            Assert.Equal(0, code);
            Assert.Contains("Examples:", stdout, StringComparison.Ordinal);
            Assert.Contains("Exit codes", stdout, StringComparison.Ordinal);
        }
    }
}
