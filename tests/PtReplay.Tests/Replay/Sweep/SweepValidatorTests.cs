using PtReplay.Cli.Commands;
using PtReplay.Replay.Sweep;
using PtReplay.Results;

namespace PtReplay.Tests.Replay.Sweep;

/// <summary>
/// The pure parts of `sweep --validate`: which points are validated (the default, the best, then the lowest others,
/// at most <see cref="SweepValidator.MaxPoints"/>), how a difference is printed, and the exit code it gives.
/// </summary>
public sealed class SweepValidatorTests
{
    private static SweepPoint Point(int trace, int point, bool failed = false) => new()
    {
        Trace = trace,
        Point = point,
        Tunables = $"glibc.malloc.top_pad={point}",
        Error = failed ? "stopped" : null,
        Memory = failed ? null : new MemoryFigures(),
    };

    [Fact]
    [Trait("Category", "Fast")]
    public void ChoosePoints_DefaultThenBestThenLowestOthers_AtMostFive()
    {
        SweepPoint[] points = [.. Enumerable.Range(0, 9).Select(p => Point(0, p, failed: p == 1)), .. Enumerable.Range(0, 9).Select(p => Point(1, p))];
        SweepBest[] best = [new(0, "peak_footprint_bytes", 7, 1), new(0, "final_rss_bytes", 7, 1), new(0, "jw_peak_rss_over_peak_live", 4, 1), new(1, "peak_footprint_bytes", 8, 1)];

        // Trace 0: the default, the two distinct best points in the order of best, then 0 and 2 (1 failed in the model).
        Assert.Equal([SweepCheck.DefaultPoint, 7, 4, 0, 2], SweepValidator.ChoosePoints(0, points, best));
        Assert.Equal([SweepCheck.DefaultPoint, 8, 0, 1, 2], SweepValidator.ChoosePoints(1, points, best));
        // A grid smaller than the limit: every point once.
        Assert.Equal([SweepCheck.DefaultPoint, 1, 0], SweepValidator.ChoosePoints(0, [Point(0, 0), Point(0, 1)], [new(0, "final_rss_bytes", 1, 1)]));
    }

    [Fact]
    [Trait("Category", "Fast")]
    public void Difference_IsSpelledOut_AndExits1_GlibcNotRunning_Exits5()
    {
        var results = new SweepResults
        {
            Axes = [new SweepAxis("glibc.malloc.top_pad", [0UL])],
            PointCount = 1,
            Traces = [new SweepTrace("a.trace", 10, 10, 100)],
            Points = [Point(0, 0)],
            Best = [],
            Validation =
            [
                new SweepCheck(0, SweepCheck.DefaultPoint, "", "peak_rss_bytes", 8192, 8192, true),
                new SweepCheck(0, 0, "glibc.malloc.top_pad=0", "final_rss_bytes", 4096, 12288, false),
            ],
            ValidationNotes = [],
        };
        var text = new StringWriter();
        SweepTable.Print(text, results);
        Assert.Contains("a.trace: 1 of 2 figures equal (50 %)", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("point 0, final_rss_bytes: the model predicted 4096, glibc measured 12288", text.ToString(), StringComparison.Ordinal);
        Assert.Equal(ExitCodes.No, SweepCommand.ExitCodeOf(results));
        Assert.Equal(ExitCodes.Ok, SweepCommand.ExitCodeOf(results with { Validation = [results.Validation[0]] }));
        Assert.Equal(ExitCodes.CannotRun, SweepCommand.ExitCodeOf(results with
        {
            Validation = [],
            ValidationNotes = [new SweepCheckNote(0, SweepCheck.DefaultPoint, "glibc's native replay could not run: no replayer", true)],
        }));
    }
}
