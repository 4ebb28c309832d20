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
