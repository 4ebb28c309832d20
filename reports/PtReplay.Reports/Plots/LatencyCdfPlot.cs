using System.Globalization;
using PtReplay.Reports.Input;
using PtReplay.Results;
using ScottPlot;

namespace PtReplay.Reports.Plots;

/// <summary>
/// The latency distribution of one call kind, a line per engine: the share of calls at or below each latency (a CDF),
/// latency on a log scale, drawn from the replay's histogram buckets (latency-buckets-ENGINE.csv). Each point is a
/// bucket's upper edge, so the curve is exact at the histogram's resolution (buckets 1/16 of a power of two wide).
/// </summary>
public static class LatencyCdfPlot
{
    /// <summary>Plot width and height in pixels.</summary>
    public const int Width = 900, Height = 340;

    /// <summary>SVG of the CDF of <paramref name="kind"/> (over all sizes) for every engine with buckets; null when none has.</summary>
    public static string? Svg(string title, string kind, IReadOnlyList<EngineOutput> engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        var plot = new Plot();
        bool any = false;
        double lowest = double.MaxValue, highest = 0;
        foreach (EngineOutput engine in engines)
        {
            var rows = engine.LatencyBuckets.Where(r => r.Kind == kind && r.SizeClass == "all" && r.Count > 0).OrderBy(r => r.LowNs).ToList();
            if (rows.Count == 0)
            {
                continue;
            }

            (double[] xs, double[] ys) = Cumulative(rows);
            lowest = Math.Min(lowest, xs[0]);
            highest = Math.Max(highest, xs[^1]);
            var line = plot.Add.Scatter(xs, ys);
            line.MarkerSize = 0;
            line.LineWidth = 1.5f;
            line.LegendText = engine.Engine;
            any = true;
        }

        if (!any)
        {
            return null;
        }

        LogScale.Nanoseconds(plot.Axes.Bottom);
        plot.Axes.SetLimitsX(Math.Floor(lowest), Math.Ceiling(highest));
        plot.Axes.SetLimitsY(0, 101);
        plot.Title(title);
        plot.XLabel("latency per call (log scale)");
        plot.YLabel("% of calls at or below");
        plot.ShowLegend(Edge.Right); // outside the data area: the legend never covers a line
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>x = log10 of each bucket's upper edge (ns, at least 1), y = percent of calls at or below it.</summary>
    public static (double[] Log10Ns, double[] Percent) Cumulative(IReadOnlyList<LatencyBucketRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        double total = rows.Sum(r => (double)r.Count), seen = 0;
        var xs = new double[rows.Count];
        var ys = new double[rows.Count];
        for (int i = 0; i < rows.Count; i++)
        {
            seen += rows[i].Count;
            xs[i] = Math.Log10(Math.Max(1, rows[i].HighNs));
            ys[i] = 100 * seen / total;
        }

        return (xs, ys);
    }
}
