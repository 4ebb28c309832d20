using PtReplay.Reports.Input;
using PtReplay.Results;
using ScottPlot;

namespace PtReplay.Reports.Plots;

/// <summary>
/// Draws one quantity of the engines' time series (a line per engine, x = call index or recorded time) with ScottPlot and
/// returns it as SVG text, ready to embed. Long series are thinned to at most <see cref="MaxPoints"/> points per
/// line, keeping each bucket's largest value so peaks stay visible.
/// </summary>
public static class SeriesPlot
{
    /// <summary>Points drawn per line at most.</summary>
    public const int MaxPoints = 1500;

    /// <summary>Plot width and height in pixels.</summary>
    public const int Width = 900, Height = 380;

    /// <summary>Which column of the series to draw.</summary>
    public enum Quantity
    {
        /// <summary>Committed memory the allocator holds (MiB).</summary>
        Footprint,
        /// <summary>Resident memory (MiB).</summary>
        Rss,
        /// <summary>All address space the allocator mapped, reservations included (MiB).</summary>
        AddressSpace,
        /// <summary>(rss - live) / rss.</summary>
        Fragmentation,
    }

    /// <summary>SVG of <paramref name="quantity"/> over time for every engine that has a series; null when none has.</summary>
    public static string? Svg(string title, Quantity quantity, IReadOnlyList<EngineOutput> engines, SeriesAxis axis = SeriesAxis.Calls)
    {
        ArgumentNullException.ThrowIfNull(engines);
        axis = SeriesAxes.Usable(axis, engines.SelectMany(e => e.Series));
        var plot = new Plot();
        bool any = false;
        foreach (EngineOutput engine in engines)
        {
            if (engine.Series.Count == 0 || (quantity == Quantity.AddressSpace && engine.Series.All(r => r.AddressSpaceBytes == 0)))
            {
                continue;
            }

            var (xs, ys) = Thin(engine.Series, quantity, axis);
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

        if (quantity != Quantity.Fragmentation)
        {
            // The live bytes (the same for every engine): what any allocator must hold at least.
            var (lx, ly) = Thin(engines.First(e => e.Series.Count > 0).Series, null, axis);
            var live = plot.Add.Scatter(lx, ly);
            live.MarkerSize = 0;
            live.LineWidth = 1;
            live.Color = Colors.Black;
            live.LegendText = "live bytes";
        }

        plot.Title(title);
        plot.XLabel(SeriesAxes.Label(axis));
        plot.YLabel(quantity == Quantity.Fragmentation ? "(rss - live) / rss" : "MiB");
        plot.ShowLegend(Edge.Right); // outside the data area: the legend never covers a line
        if (quantity == Quantity.Fragmentation)
        {
            plot.Axes.SetLimitsY(0, 1.05);
        }

        return plot.GetSvgXml(Width, Height);
    }

    private static (double[] Xs, double[] Ys) Thin(IReadOnlyList<SeriesRow> series, Quantity? quantity, SeriesAxis axis)
    {
        int step = Math.Max(1, (series.Count + MaxPoints - 1) / MaxPoints);
        int n = (series.Count + step - 1) / step;
        var xs = new double[n];
        var ys = new double[n];
        for (int b = 0; b < n; b++)
        {
            int start = b * step;
            int end = Math.Min(series.Count, start + step);
            double best = double.MinValue;
            for (int i = start; i < end; i++)
            {
                best = Math.Max(best, Value(series[i], quantity));
            }

            xs[b] = SeriesAxes.X(axis, series[start].Seq, series[start].TimestampNs);
            ys[b] = best;
        }

        return (xs, ys);
    }

    private static double Value(SeriesRow s, Quantity? quantity) => quantity switch
    {
        Quantity.Footprint => s.FootprintBytes / 1048576.0,
        Quantity.Rss => s.RssBytes / 1048576.0,
        Quantity.AddressSpace => s.AddressSpaceBytes / 1048576.0,
        Quantity.Fragmentation => s.Fragmentation,
        _ => s.LiveBytes / 1048576.0,
    };
}
