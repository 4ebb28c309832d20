using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>
/// A started program that leaves a background job behind (`cmd &amp;`, a daemon) exits while the job still records.
/// `record` must wait for it (bounded by --wait-children) so its trace is whole and in the tree, and name the ones still
/// running when it stops waiting, instead of summarising half-written traces as "cut short (killed?)" and returning while
/// they go on writing.
/// </summary>
public sealed class RecordBackgroundChildrenTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-background-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ABackgroundJob_ThatOutlivesTheProgram_IsWaitedFor_AndItsTraceIsWhole()
    {
        string trace = _dir.File("bg.trace");
        (int code, string stdout, string stderr) = CliRunner.Run("record", "-o", trace, "--",
            "/bin/sh", "-c", "(sleep 1; /usr/bin/seq 1 3000 | /usr/bin/sort -n | /usr/bin/tail -1) & echo started");
        Assert.True(code == 0, stderr);
        Assert.Contains("3000", stdout, StringComparison.Ordinal); // the job finished before record returned
        Assert.Contains("ptreplay record: the program exited; waiting up to 10 s for", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("cut short", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("still running", stderr, StringComparison.Ordinal);
        string sort = Assert.Single(Directory.GetFiles(_dir.Path, "bg.trace.*"), f =>
        {
            using var r = TraceReader.Open(f);
            return r.Header.ExecutablePath == "/usr/bin/sort";
        });
        using var reader = TraceReader.Open(sort);
        Assert.True(reader.ReadAll().Any(), "the job's trace has no events");
        Assert.False(reader.IsTruncated, "the job's trace was summarised before it was whole");
        Assert.Contains(Path.GetFileName(sort) + "  ", stderr, StringComparison.Ordinal); // in the tree
    }

    [Fact]
    public void AJobStillRunningWhenTheWaitEnds_IsNamed_AndItsTraceKeepsBeingWritten()
    {
        string trace = _dir.File("late.trace");
        (int code, _, string stderr) = CliRunner.Run("record", "-o", trace, "--wait-children", "0.2", "--",
            "/bin/sh", "-c", "(/bin/sleep 2; /usr/bin/seq 1 10 > /dev/null) & echo started");
        Assert.True(code == 0, stderr);
        Assert.Contains("still running (incomplete)", stderr, StringComparison.Ordinal);
        Assert.Matches(@"ptreplay record: \d+ process(es were| was) still running when record stopped waiting \(pid [\d, ]+\)", stderr);

        var bad = CliRunner.Run("record", "-o", trace, "--wait-children", "-1", "--", "/bin/true");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--wait-children", bad.Stderr, StringComparison.Ordinal);
    }
}
