using PtReplay.Results;
using ScottPlot;

namespace PtReplay.Reports.Plots;

/// <summary>
/// The recording's live bytes over time split by request size class (live-by-size.csv), as stacked bands: the top edge
/// is the trace's live bytes, each band one class, smallest at the bottom. Long series are thinned to at most
/// <see cref="SeriesPlot.MaxPoints"/> samples (every k-th sample, the last always kept), so bands stay stacked exactly.
/// </summary>
public static class LiveBySizePlot
{
    /// <summary>Plot size in pixels.</summary>
    public const int Width = SeriesPlot.Width, Height = SeriesPlot.Height;

    /// <summary>Fill colours of the classes, smallest class first (a sequential palette: size reads as depth).</summary>
    private static readonly string[] Palette = ["#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b", "#e6550d"];

    /// <summary>SVG of the bands; null when there is no row or nothing was ever live.</summary>
    public static string? Svg(string title, IReadOnlyList<LiveBySizeRow> rows, SeriesAxis axis = SeriesAxis.Calls)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0 || rows.All(r => r.ByClass().All(b => b == 0)))
        {
            return null;
        }

        int step = Math.Max(1, (rows.Count + SeriesPlot.MaxPoints - 1) / SeriesPlot.MaxPoints);
        var kept = new List<LiveBySizeRow>();
        for (int i = 0; i < rows.Count; i += step)
        {
            kept.Add(rows[i]);
        }

        if (kept[^1] != rows[^1])
        {
            kept.Add(rows[^1]);
        }

        double[] xs = [.. kept.Select(r => SeriesAxes.X(axis, r.Seq, r.TimestampNs))];
        double[] below = new double[kept.Count];
        var plot = new Plot();
        for (int c = 0; c < LiveBySizeRow.Classes; c++)
        {
            double[] above = new double[kept.Count];
            bool any = false;
            for (int i = 0; i < kept.Count; i++)
            {
                ulong bytes = kept[i].ByClass()[c];
                any |= bytes > 0;
                above[i] = below[i] + (bytes / 1048576.0);
            }

            if (any)
            {
                var band = plot.Add.FillY(xs, below, above);
                band.FillColor = Color.FromHex(Palette[c]).WithAlpha(0.9);
                band.LineWidth = 0;
                band.LegendText = LiveBySizeRow.ClassNames[c];
            }

            below = above;
        }

        plot.Title(title);
        plot.XLabel(SeriesAxes.Label(axis));
        plot.YLabel("live MiB (requested)");
        plot.ShowLegend(Edge.Right); // outside the data area: the legend never covers a line
        return plot.GetSvgXml(Width, Height);
    }
}
