namespace PtReplay.Results;

/// <summary>
/// The one definition of every derived memory figure. Each result is in range by construction:
/// fragmentation in [0, 1], ratios finite and at least 0.
/// </summary>
public static class FigureMath
{
    /// <summary>
    /// (rss - live) / rss: the share of the allocator's resident memory that holds no live data, clamped to [0, 1]
    /// (0 when rss is 0, and 0 when live exceeds rss, e.g. under the "none" touch model, where blocks are never faulted in).
    /// </summary>
    public static double Fragmentation(ulong liveBytes, ulong rssBytes) =>
        rssBytes == 0 || liveBytes >= rssBytes ? 0 : (double)(rssBytes - liveBytes) / rssBytes;

    /// <summary>A Johnstone-Wilson ratio: <paramref name="bytes"/> over the peak live bytes (0 when nothing was ever live).</summary>
    public static double OverPeakLive(ulong bytes, ulong peakLiveBytes) => peakLiveBytes == 0 ? 0 : (double)bytes / peakLiveBytes;

    /// <summary>How summary.json rounds a ratio: 4 decimals; anything not finite is written as 0.</summary>
    public static double Round(double value) => double.IsFinite(value) ? Math.Round(value, 4) : 0;
}
