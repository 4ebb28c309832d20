using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using PtReplay.Reports.Sweep;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;

namespace PtReplay.Tests.Replay.Sweep;

/// <summary>
/// sweep.html beside sweep.json: for a two-tunable grid over a bundled recording, a plot against each tunable and a heat map
/// over both, the best points as sweep.json has them; each point's place in the heat map is the value its own tunables
/// string names.
/// </summary>
public sealed partial class SweepReportTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-sweep-report-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ATwoTunableGrid_GetsAPlotPerTunable_AndAHeatMap()
    {
        string trace = RepoFiles.SampleTraces.First(t => t.EndsWith("python.trace", StringComparison.Ordinal));
        string outDir = _dir.File("sweep");
        var run = CliRunner.Run("sweep", trace, "-t", "glibc.malloc.mmap_threshold=4096,65536,1048576", "-t", "glibc.malloc.top_pad=0,131072", "-o", outDir);
        Assert.True(run.ExitCode == 0, run.Stderr);
        SweepResults results = SweepFile.Read(Path.Combine(outDir, SweepResults.FileName));
        string page = File.ReadAllText(Path.Combine(outDir, SweepReport.FileName));
        Assert.Contains(SweepReport.FileName, run.Stdout, StringComparison.Ordinal);

        // Each point's values on the axes, read from its own tunables string.
        foreach (SweepPoint p in results.Points)
        {
            for (int a = 0; a < results.Axes.Count; a++)
            {
                ulong value = results.Axes[a].Values[SweepReport.ValueIndex(results, p.Point, a)];
                Assert.Contains($"{results.Axes[a].Name}={value.ToString(CultureInfo.InvariantCulture)}", p.Tunables, StringComparison.Ordinal);
            }
        }

        MatchCollection figures = Img().Matches(page);
        List<string> titles = [.. figures.Select(m => m.Groups[1].Value)];
        Assert.Contains(titles, t => t.EndsWith("figures against glibc.malloc.mmap_threshold", StringComparison.Ordinal));
        Assert.Contains(titles, t => t.EndsWith("figures against glibc.malloc.top_pad", StringComparison.Ordinal));
        Assert.Contains(titles, t => t.Contains("peak footprint over glibc.malloc.mmap_threshold and glibc.malloc.top_pad", StringComparison.Ordinal));
        foreach (Match m in figures)
        {
            XDocument svg = XDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(m.Groups[2].Value)));
            Assert.Equal("svg", svg.Root!.Name.LocalName);
        }

        // The best points, as sweep.json names them.
        foreach (SweepBest b in results.Best)
        {
            string tunables = results.Points.Single(p => p.Trace == b.Trace && p.Point == b.Point).Tunables;
            Assert.Contains($"<td class=\"t\">{b.Figure}</td><td>{b.Point}</td><td class=\"t\">{tunables}</td>", page, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex("<img alt=\"([^\"]+)\"[^>]*src=\"data:image/svg\\+xml;base64,([^\"]+)\"")]
    private static partial Regex Img();
}
