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

    /// <summary>A latency or ratio: up to 4 decimals.</summary>
    public static string Plain(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);

    private static bool IsCount(string name) => name is "events" or "calls" or "ops" or "threads" or "slots" or "issues_total" or "wall_ns" or "sampling_ns" or "warmup_ns" or "samples";
}
