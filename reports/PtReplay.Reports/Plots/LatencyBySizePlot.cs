using System.Globalization;
using PtReplay.Reports.Input;
using PtReplay.Results;
using ScottPlot;

namespace PtReplay.Reports.Plots;

/// <summary>
/// The latency of one call kind by request-size class (latency-ENGINE.csv's per-class rows): for each engine, its p50
/// (filled markers, thick line) and p99 (open markers, thin line, same colour) in each class with calls, latency on a log
/// scale. A class without calls on an engine is a gap. (No dashed lines: the SVG backend cannot draw them and complains on
/// stderr.)
/// </summary>
public static class LatencyBySizePlot
{
    /// <summary>Plot size in pixels.</summary>
    public const int Width = 900, Height = 320;

    /// <summary>SVG for <paramref name="kind"/>; null when no engine has per-class rows for it.</summary>
    public static string? Svg(string title, string kind, IReadOnlyList<EngineOutput> engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        List<string> classes = [.. engines.SelectMany(e => e.LatencyRows).Where(r => r.Kind == kind && r.SizeClass != "all" && r.Count > 0)
            .Select(r => r.SizeClass).Distinct(StringComparer.Ordinal).OrderBy(Order)];
        if (classes.Count == 0)
        {
            return null;
        }

        var plot = new Plot();
        double lowest = double.MaxValue, highest = 0;
        foreach (EngineOutput engine in engines)
        {
            var rows = engine.LatencyRows.Where(r => r.Kind == kind && r.SizeClass != "all" && r.Count > 0).ToDictionary(r => r.SizeClass, StringComparer.Ordinal);
            if (rows.Count == 0)
            {
                continue;
            }

            foreach (bool p99 in (bool[])[false, true])
            {
                var xs = new List<double>();
                var ys = new List<double>();
                for (int i = 0; i < classes.Count; i++)
                {
                    if (rows.TryGetValue(classes[i], out LatencyRow? r))
                    {
                        double v = Math.Max(1, p99 ? r.P99Ns : r.P50Ns);
                        xs.Add(i);
                        ys.Add(Math.Log10(v));
                        lowest = Math.Min(lowest, ys[^1]);
                        highest = Math.Max(highest, ys[^1]);
                    }
                }

                var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
                line.LegendText = $"{engine.Engine} {(p99 ? "p99" : "p50")}";
                line.MarkerSize = 5;
                line.MarkerShape = p99 ? MarkerShape.OpenCircle : MarkerShape.FilledCircle;
                line.LineWidth = p99 ? 1 : 2;
                if (p99)
                {
                    line.Color = plot.GetPlottables().OfType<ScottPlot.Plottables.Scatter>().Reverse().Skip(1).First().Color;
                }
            }
        }

        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, classes.Count).Select(i => (double)i)], [.. classes.Select(c => c + " B")]);
        LogScale.Nanoseconds(plot.Axes.Left);
        plot.Axes.SetLimitsY(Math.Floor(lowest), Math.Ceiling(highest) + 0.01);
        plot.Title(title);
        plot.XLabel("requested bytes");
        plot.YLabel("latency per call (log scale)");
        plot.ShowLegend(Edge.Right);
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>Sort key of a class name ("&lt;=64" ... "&gt;1048576").</summary>
    private static double Order(string sizeClass) =>
        sizeClass.StartsWith('>') ? double.MaxValue : double.Parse(sizeClass.TrimStart('<', '='), CultureInfo.InvariantCulture);
}
