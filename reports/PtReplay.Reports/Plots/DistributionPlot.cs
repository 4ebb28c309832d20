using System.Globalization;
using PtReplay.Results;
using ScottPlot;

namespace PtReplay.Reports.Plots;

/// <summary>
/// A <see cref="Distribution"/> (power-of-two buckets) as bars, one per bucket from the smallest to the largest non-empty
/// one (empty buckets between them drawn as gaps), each labelled with its lower edge.
/// </summary>
public static class DistributionPlot
{
    /// <summary>Plot size in pixels.</summary>
    public const int Width = 900, Height = 260;

    /// <summary>How bucket edges are written.</summary>
    public enum Unit
    {
        /// <summary>Bytes (B, KiB, MiB, GiB).</summary>
        Bytes,
        /// <summary>A count (k, M, G).</summary>
        Count,
        /// <summary>Nanoseconds (ns, us, ms, s).</summary>
        Nanoseconds,
    }

    /// <summary>SVG of <paramref name="d"/>; null when it has no bucket.</summary>
    public static string? Svg(string title, string xLabel, Distribution d, Unit unit)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (d.Buckets.Count == 0)
        {
            return null;
        }

        int first = Log2(d.Buckets[0].Min), last = Log2(d.Buckets[^1].Min);
        var plot = new Plot();
        var positions = new List<double>();
        var labels = new List<string>();
        double total = d.Total();
        foreach (DistributionBucket b in d.Buckets)
        {
            int k = Log2(b.Min);
            var bar = plot.Add.Bar(k - first, 100.0 * b.Count / total);
            bar.Color = Color.FromHex("#1f77b4");
        }

        int step = Math.Max(1, (last - first + 1) / 16);
        for (int k = first; k <= last; k += step)
        {
            positions.Add(k - first);
            labels.Add(Label(k == 0 ? 0 : 1UL << k, unit));
        }

        plot.Axes.Bottom.SetTicks([.. positions], [.. labels]);
        plot.Axes.SetLimitsY(0, 105);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel("% of values");
        return plot.GetSvgXml(Width, Height);
    }

    private static int Log2(ulong v) => v == 0 ? 0 : System.Numerics.BitOperations.Log2(v);

    private static string Label(ulong v, Unit unit)
    {
        var inv = CultureInfo.InvariantCulture;
        return unit switch
        {
            Unit.Bytes => v >= 1UL << 30 ? $"{(v >> 30).ToString(inv)} GiB" : v >= 1UL << 20 ? $"{(v >> 20).ToString(inv)} MiB" : v >= 1UL << 10 ? $"{(v >> 10).ToString(inv)} KiB" : $"{v.ToString(inv)} B",
            Unit.Nanoseconds => LogScale.Duration(v),
            _ => v >= 1_000_000_000 ? $"{(v / 1e9).ToString("0.#", inv)}G" : v >= 1_000_000 ? $"{(v / 1e6).ToString("0.#", inv)}M" : v >= 1000 ? $"{(v / 1e3).ToString("0.#", inv)}k" : v.ToString(inv),
        };
    }
}
