using System.Text.Json;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces.Stacks;

/// <summary>`ptreplay record --stacks[=DEPTH]` and what `info` says about a trace's stacks.</summary>
public class RecordStacksVerbTests
{
    [Fact]
    public void StacksWithoutADepth_RecordTheDefaultDepth_AndInfoCountsThem()
    {
        using var dir = new TempDir();
        string trace = dir.File("sh.trace");
        (int code, _, string stderr) = CliRunner.Run("record", "-o", trace, "--no-follow", "--stacks", "--", "/bin/sh", "-c", "echo hi");
        Assert.True(code == 0, stderr);
        using (TraceReader reader = TraceReader.Open(trace))
        {
            Assert.Equal(TraceFormat.StacksVersion, reader.Header.FormatVersion);
            List<AllocEvent> events = reader.ReadAll().ToList();
            Assert.Contains(events, e => e.Stack != 0);
            Assert.All(events.Where(e => e.Stack != 0), e => Assert.InRange(reader.Stacks.Frames(e.Stack).Count, 1, 24));
        }

        (code, string text, _) = CliRunner.Run("info", trace);
        Assert.Equal(0, code);
        Assert.Matches(@"stacks     [\d,]+ distinct call stacks in [\d,]+ module mappings", text);
        (code, string json, _) = CliRunner.Run("info", "--json", trace);
        Assert.Equal(0, code);
        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.True(doc.RootElement.GetProperty("stacks").GetInt32() > 0);
        Assert.True(doc.RootElement.GetProperty("modules").GetInt32() > 2); // sh, libc, ld.so at least
    }

    [Fact]
    public void WithoutStacks_InfoSaysNoneWereRecorded()
    {
        using var dir = new TempDir();
        string trace = dir.File("sh.trace");
        (int code, _, string stderr) = CliRunner.Run("record", "-o", trace, "--no-follow", "--", "/bin/sh", "-c", "echo hi");
        Assert.True(code == 0, stderr);
        (code, string text, _) = CliRunner.Run("info", trace);
        Assert.Equal(0, code);
        Assert.Contains("stacks     none recorded", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--stacks=0")]
    [InlineData("--stacks=129")]
    [InlineData("--stacks=deep")]
    public void ABadDepth_IsAUsageError_NamingTheRange(string option)
    {
        using var dir = new TempDir();
        (int code, _, string stderr) = CliRunner.Run("record", "-o", dir.File("x.trace"), option, "--", "/bin/true");
        Assert.Equal(2, code);
        Assert.Contains("from 1 to 128", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("x.trace")));
    }
}
