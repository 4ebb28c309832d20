using System.Globalization;
using System.Net;
using System.Text;
using PtReplay.Reports.Html;
using PtReplay.Results;
using ScottPlot;

namespace PtReplay.Reports.Sweep;

/// <summary>
/// sweep.html: a sweep's results as one self-contained page. Per trace: the best points, then for each tunable the
/// model's peak footprint and final RSS against its values (at each value, the best over the other tunables' values),
/// and for a grid of exactly two tunables a heat map of the peak footprint over both; the validation against glibc when
/// the sweep ran with --validate.
/// </summary>
public static class SweepReport
{
    /// <summary>The file name beside sweep.json.</summary>
    public const string FileName = "sweep.html";

    /// <summary>Plot size in pixels.</summary>
    public const int Width = 800, Height = 340;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The page for <paramref name="results"/>.</summary>
    public static string Build(SweepResults results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var html = new StringBuilder(1 << 14);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>PtReplay sweep</title>\n<style>\n")
            .Append("body { font-family: sans-serif; margin: 2em; max-width: 1100px; color: #222; }\n")
            .Append("table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }\n")
            .Append("th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }\nth { background: #eee; }\n")
            .Append("td.t { text-align: left; font-family: monospace; }\n</style></head><body>\n<h1>PtReplay sweep</h1>\n")
            .Append(Inv, $"<p>{results.PointCount} point(s): ")
            .Append(E(string.Join(" x ", results.Axes.Select(a => $"{a.Name} ({a.Values.Count} values)"))))
            .Append(". The model (C# ptmalloc) is deterministic: one run per point.</p>\n");
        for (int t = 0; t < results.Traces.Count; t++)
        {
            SweepTrace trace = results.Traces[t];
            var points = results.Points.Where(p => p.Trace == t).OrderBy(p => p.Point).ToList();
            html.Append(Inv, $"<section><h2>{E(Path.GetFileName(trace.Path))}</h2>\n<p>{E(trace.Path)}: {trace.Calls:N0} calls, peak live {Mib(trace.PeakLiveBytes)} MiB</p>\n");
            html.Append("<table><tr><th>best by</th><th>point</th><th>tunables</th><th>value</th></tr>\n");
            foreach (SweepBest b in results.Best.Where(b => b.Trace == t))
            {
                SweepPoint? p = points.FirstOrDefault(x => x.Point == b.Point);
                html.Append(Inv, $"<tr><td class=\"t\">{E(b.Figure)}</td><td>{b.Point}</td><td class=\"t\">{E(p?.Tunables ?? "")}</td><td>{b.Value.ToString("G", Inv)}</td></tr>\n");
            }

            html.Append("</table>\n");
            for (int a = 0; a < results.Axes.Count; a++)
            {
                if (AgainstAxis(results, points, a) is { } svg)
                {
                    Figure(html, $"{Path.GetFileName(trace.Path)}: figures against {results.Axes[a].Name}", svg);
                }
            }

            if (results.Axes.Count == 2 && HeatMap(results, points) is { } heat)
            {
                Figure(html, $"{Path.GetFileName(trace.Path)}: peak footprint over {results.Axes[0].Name} and {results.Axes[1].Name}", heat);
            }

            if (results.Validation is { Count: > 0 } checks)
            {
                html.Append("<h3>Validation against glibc</h3>\n<table><tr><th>point</th><th>tunables</th><th>figure</th><th>model</th><th>glibc</th><th>equal</th></tr>\n");
                foreach (SweepCheck c in checks.Where(c => c.Trace == t))
                {
                    string point = c.Point == SweepCheck.DefaultPoint ? "default" : c.Point.ToString(Inv);
                    html.Append(Inv, $"<tr><td>{point}</td><td class=\"t\">{E(c.Tunables)}</td><td class=\"t\">{E(c.Figure)}</td><td>{c.Model:N0}</td><td>{c.Glibc:N0}</td><td>{(c.Equal ? "yes" : "no")}</td></tr>\n");
                }

                html.Append("</table>\n");
            }

            html.Append("</section>\n");
        }

        html.Append("</body></html>\n");
        return html.ToString();
    }

    /// <summary>
    /// Peak footprint and final RSS (MiB) against axis <paramref name="axis"/>'s values: at each value the smallest over the
    /// points with that value (the best the other tunables give). Null when no point ran.
    /// </summary>
    public static string? AgainstAxis(SweepResults results, IReadOnlyList<SweepPoint> points, int axis)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(points);
        SweepAxis ax = results.Axes[axis];
        var peak = new double[ax.Values.Count];
        var final = new double[ax.Values.Count];
        Array.Fill(peak, double.NaN);
        Array.Fill(final, double.NaN);
        foreach (SweepPoint p in points.Where(p => p.Memory is not null))
        {
            int v = ValueIndex(results, p.Point, axis);
            peak[v] = double.IsNaN(peak[v]) ? p.Memory!.PeakFootprintBytes / 1048576.0 : Math.Min(peak[v], p.Memory!.PeakFootprintBytes / 1048576.0);
            final[v] = double.IsNaN(final[v]) ? p.Memory!.FinalRssBytes / 1048576.0 : Math.Min(final[v], p.Memory!.FinalRssBytes / 1048576.0);
        }

        if (peak.All(double.IsNaN))
        {
            return null;
        }

        var plot = new Plot();
        double[] xs = [.. Enumerable.Range(0, ax.Values.Count).Select(i => (double)i)];
        var p1 = plot.Add.Scatter(xs, peak);
        p1.LegendText = "peak footprint";
        var p2 = plot.Add.Scatter(xs, final);
        p2.LegendText = "final RSS";
        plot.Axes.Bottom.SetTicks(xs, [.. ax.Values.Select(v => v.ToString(Inv))]);
        plot.XLabel(ax.Name + (results.Axes.Count > 1 ? " (each value: the best over the other tunables)" : ""));
        plot.YLabel("MiB");
        plot.Axes.SetLimitsY(0, Math.Max(peak.Where(v => !double.IsNaN(v)).DefaultIfEmpty(1).Max(), final.Where(v => !double.IsNaN(v)).DefaultIfEmpty(1).Max()) * 1.1);
        plot.ShowLegend(Edge.Right); // outside the data area: the legend never covers a line
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>The peak footprint (MiB) of every point of a two-tunable grid as a heat map with a colour bar.</summary>
    public static string? HeatMap(SweepResults results, IReadOnlyList<SweepPoint> points)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(points);
        SweepAxis a0 = results.Axes[0], a1 = results.Axes[1];
        // Intensities[row, column]: row 0 is drawn at the top; rows = the second axis (its first value at the bottom).
        var values = new double[a1.Values.Count, a0.Values.Count];
        for (int r = 0; r < a1.Values.Count; r++)
        {
            for (int c = 0; c < a0.Values.Count; c++)
            {
                values[r, c] = double.NaN;
            }
        }

        bool any = false;
        foreach (SweepPoint p in points.Where(p => p.Memory is not null))
        {
            int c = ValueIndex(results, p.Point, 0), r = ValueIndex(results, p.Point, 1);
            values[a1.Values.Count - 1 - r, c] = p.Memory!.PeakFootprintBytes / 1048576.0;
            any = true;
        }

        if (!any)
        {
            return null;
        }

        var plot = new Plot();
        var heat = plot.Add.Heatmap(values);
        heat.NaNCellColor = Colors.White;
        heat.Rectangle = new CoordinateRect(-0.5, a0.Values.Count - 0.5, -0.5, a1.Values.Count - 0.5);
        plot.Add.ColorBar(heat).Label = "peak footprint (MiB)";
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, a0.Values.Count).Select(i => (double)i)], [.. a0.Values.Select(v => v.ToString(Inv))]);
        plot.Axes.Left.SetTicks([.. Enumerable.Range(0, a1.Values.Count).Select(i => (double)i)], [.. a1.Values.Select(v => v.ToString(Inv))]);
        plot.XLabel(a0.Name);
        plot.YLabel(a1.Name);
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>The index into axis <paramref name="axis"/>'s values of point <paramref name="point"/> (first axis slowest).</summary>
    public static int ValueIndex(SweepResults results, int point, int axis)
    {
        ArgumentNullException.ThrowIfNull(results);
        int stride = 1;
        for (int a = results.Axes.Count - 1; a > axis; a--)
        {
            stride *= results.Axes[a].Values.Count;
        }

        return point / stride % results.Axes[axis].Values.Count;
    }

    private static void Figure(StringBuilder html, string title, string svg) => SvgFigure.Append(html, title, Width, Height, svg, title);

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Mib(ulong bytes) => (bytes / 1048576.0).ToString("0.00", Inv);
}
