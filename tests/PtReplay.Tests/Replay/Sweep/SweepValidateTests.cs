using PtReplay.Cli;
using PtReplay.Results;

namespace PtReplay.Tests.Replay.Sweep;

/// <summary>
/// `ptreplay sweep --validate` on real recordings: on single-thread traces every validated point's model figures equal
/// glibc's, and glibc's figures are those of a plain `replay --engine glibc --tunables POINT` of the same trace (golden
/// data from the real glibc); a multi-thread trace is not validated and says why.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class SweepValidateTests(Recordings recordings)
{
    // Both move the footprint: mmap_threshold takes the large blocks out of the heap, top_pad grows the heap in larger steps.
    private static readonly string[] Grid =
        ["--tunable", "glibc.malloc.mmap_threshold=64K,1M", "--tunable", "glibc.malloc.top_pad=0,1M"];

    [Fact]
    public void SingleThreadTraces_ModelEqualsGlibc_AndGlibcEqualsPlainReplay()
    {
        string dir = recordings.NewFolder("sweep-validate");
        (int code, string stdout) = Run(["sweep", recordings.Python, recordings.Sqlite, .. Grid, "--validate", "--parallel", "2", "-o", dir]);
        Assert.Equal(0, code);
        SweepResults results = SweepFile.Read(Path.Combine(dir, SweepResults.FileName));
        Assert.NotNull(results.Validation);
        Assert.Empty(results.ValidationNotes!);
        Assert.Contains("validation:", stdout, StringComparison.Ordinal);

        for (int t = 0; t < results.Traces.Count; t++)
        {
            var checks = results.Validation!.Where(c => c.Trace == t).ToList();
            var points = checks.Select(c => c.Point).Distinct().ToList();
            // The default point first, then the best points; the grid has 4 points, so 5 in all.
            Assert.Equal(SweepCheck.DefaultPoint, points[0]);
            Assert.Equal(5, points.Count);
            Assert.All(results.Best.Where(b => b.Trace == t), b => Assert.Contains(b.Point, points));
            Assert.Equal(points.Count * SweepCheck.Figures.Count, checks.Count);
            var differing = checks.Where(c => !c.Equal || c.Model != c.Glibc).Select(c => $"point {c.Point} {c.Figure}: model {c.Model}, glibc {c.Glibc}").ToList();
            Assert.True(differing.Count == 0, string.Join("; ", differing));
            Assert.Contains($"{results.Traces[t].Path}: {checks.Count} of {checks.Count} figures equal (100 %)", stdout, StringComparison.Ordinal);

            // The tunables reached glibc: its peak footprint is not the same at every validated point.
            Assert.True(checks.Where(c => c.Figure == "peak_footprint_bytes").Select(c => c.Glibc).Distinct().Count() > 1,
                "glibc's peak footprint is the same at every point");

            foreach (int point in points)
            {
                // The grid points' model figures are the sweep's own.
                if (point != SweepCheck.DefaultPoint)
                {
                    MemoryFigures model = results.Points.Single(p => p.Trace == t && p.Point == point).Memory!;
                    Assert.All(checks.Where(c => c.Point == point), c => Assert.Equal(SweepCheck.FigureOf(model, c.Figure), c.Model));
                }

                // glibc's figures are those of a plain glibc replay of the point.
                string tunables = checks.First(c => c.Point == point).Tunables;
                string replayDir = recordings.NewFolder("sweep-validate-replay");
                string[] pointArgs = tunables.Length == 0 ? [] : ["--tunables", tunables];
                Assert.Equal(0, Program.Main(["replay", results.Traces[t].Path, "--out", replayDir, "--engine", "glibc", .. pointArgs]));
                MemoryFigures glibc = SummaryFile.Read(Path.Combine(replayDir, SummaryFile.FileName)).Engines.Single().Memory!;
                Assert.All(checks.Where(c => c.Point == point), c => Assert.Equal(SweepCheck.FigureOf(glibc, c.Figure), c.Glibc));
            }
        }

        // --json carries the same validation.
        (int jsonCode, string json) = Run(["sweep", recordings.Python, .. Grid, "--validate", "--json"]);
        Assert.Equal(0, jsonCode);
        string jsonFile = Path.Combine(recordings.NewFolder("sweep-validate-json"), "stdout.json");
        File.WriteAllText(jsonFile, json);
        Assert.Equal(results.Validation!.Where(c => c.Trace == 0), SweepFile.Read(jsonFile).Validation!);
    }

    [Fact]
    public void MultiThreadTrace_IsNotValidated_AndSaysWhy()
    {
        (int code, string stdout) = Run(["sweep", recordings.MultiThread, "--tunable", "glibc.malloc.top_pad=0,1M", "--validate", "--json"]);
        Assert.Equal(0, code);
        string jsonFile = Path.Combine(recordings.NewFolder("sweep-validate-mt"), "stdout.json");
        File.WriteAllText(jsonFile, stdout);
        SweepResults results = SweepFile.Read(jsonFile);
        Assert.Empty(results.Validation!);
        SweepCheckNote note = Assert.Single(results.ValidationNotes!);
        Assert.False(note.CannotRun);
        Assert.Contains("sim preamble", note.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateWithMerge_Exits2()
    {
        Assert.Equal(2, Program.Main(["sweep", "--merge", recordings.NewFolder("sweep-validate-merge"), "--validate"]));
    }

    private static (int Code, string Stdout) Run(string[] args)
    {
        var stdout = new StringWriter();
        TextWriter saved = Console.Out;
        Console.SetOut(stdout);
        try
        {
            return (Program.Main(args), stdout.ToString());
        }
        finally
        {
            Console.SetOut(saved);
        }
    }
}
