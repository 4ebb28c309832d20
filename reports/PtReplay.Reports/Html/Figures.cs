using System.Globalization;

namespace PtReplay.Reports.Html;

/// <summary>How reports print numbers: byte counts with thousands separators, everything else as in summary.json (up to 4 decimals).</summary>
public static class Figures
{
    /// <summary>Formats a figure by its name: names ending in "_bytes" or "calls"/"events"-like counts as integers with separators.</summary>
    public static string Format(string name, double value) =>
        name.EndsWith("_bytes", StringComparison.Ordinal) || IsCount(name)
            ? value.ToString("N0", CultureInfo.InvariantCulture)
            : value.ToString("0.####", CultureInfo.InvariantCulture);

    /// <summary>A byte count or event count with separators.</summary>
    public static string Count(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A ratio: up to 4 decimals.</summary>
    public static string Plain(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);

    /// <summary>
    /// A latency given in nanoseconds, with its unit and three significant digits, trailing zeros dropped: "29.9 ns",
    /// "530 ns", "1.01 µs", "133 µs", "2.5 ms". The unit is chosen after rounding, so 999.7 ns reads "1 µs".
    /// </summary>
    public static string Latency(double ns)
    {
        if (double.IsNaN(ns) || double.IsInfinity(ns))
        {
            return "\u2013";
        }

        string[] units = ["ns", "µs", "ms", "s"];
        double value = Math.Max(ns, 0);
        int unit = 0;
        while (unit < units.Length - 1 && RoundSignificant(value, 3) >= 1000)
        {
            value /= 1000;
            unit++;
        }

        double rounded = RoundSignificant(value, 3);
        return rounded.ToString("0.####", CultureInfo.InvariantCulture) + "\u00a0" + units[unit];
    }

    /// <summary>
    /// A byte count for text read by people: below 1 KiB the exact count ("912 B"), above it the binary unit that keeps
    /// the value under 1000, with three significant digits, trailing zeros dropped: "1.5 KiB", "9.32 MiB", "587 MiB",
    /// "1.2 GiB", with a plain space (terminal text). The unit is chosen after rounding, so 1,048,000 bytes read
    /// "0.999 MiB", not "1020 KiB", and no figure needs four digits.
    /// </summary>
    public static string Bytes(ulong bytes)
    {
        if (bytes < 1024)
        {
            return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        }

        string[] units = ["KiB", "MiB", "GiB", "TiB"];
        double value = bytes / 1024.0;
        int unit = 0;
        while (unit < units.Length - 1 && RoundSignificant(value, 3) >= 1000)
        {
            value /= 1024;
            unit++;
        }

        return RoundSignificant(value, 3).ToString("0.####", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    private static double RoundSignificant(double value, int digits)
    {
        if (value == 0)
        {
            return 0;
        }

        int magnitude = (int)Math.Floor(Math.Log10(value)) + 1;
        int decimals = Math.Clamp(digits - magnitude, 0, 15);
        double scale = Math.Pow(10, digits - magnitude);
        return decimals > 0 ? Math.Round(value, decimals, MidpointRounding.AwayFromZero) : Math.Round(value * scale, MidpointRounding.AwayFromZero) / scale;
    }

    private static bool IsCount(string name) => name is "events" or "calls" or "ops" or "threads" or "slots" or "issues_total" or "wall_ns" or "sampling_ns" or "warmup_ns" or "samples";
}
