using System.Globalization;
using ScottPlot;

namespace PtReplay.Reports.Plots;

/// <summary>
/// A latency axis on a log scale: the plots draw log10 of the nanoseconds, and the axis labels integer powers of ten as
/// durations, with log-spaced minor ticks between them.
/// </summary>
public static class LogScale
{
    /// <summary>Labels <paramref name="axis"/> (holding log10 of ns) with durations at powers of ten.</summary>
    public static void Nanoseconds(IAxis axis)
    {
        ArgumentNullException.ThrowIfNull(axis);
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true,
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            LabelFormatter = v => Duration(Math.Pow(10, v)),
        };
    }

    /// <summary>A duration in ns written with its unit (ns, us, ms, s).</summary>
    public static string Duration(double ns) => ns switch
    {
        >= 1e9 => (ns / 1e9).ToString("0.#", CultureInfo.InvariantCulture) + " s",
        >= 1e6 => (ns / 1e6).ToString("0.#", CultureInfo.InvariantCulture) + " ms",
        >= 1e3 => (ns / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + " us",
        _ => ns.ToString("0.#", CultureInfo.InvariantCulture) + " ns",
    };
}
