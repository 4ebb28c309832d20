using System.Globalization;
using PtReplay.Replay.Metrics;

namespace PtReplay.Tests.Replay;

/// <summary>The check that two engines' series agree sample by sample, with the first differences in the failure.</summary>
internal static class SeriesAgreement
{
    /// <summary>
    /// Asserts that <paramref name="sim"/> and <paramref name="glibc"/> have the same RSS and footprint at every sample (the
    /// series are compared pair by pair); <paramref name="context"/> goes into the failure message.
    /// </summary>
    public static void AssertSameRssAndFootprint(EngineResult sim, EngineResult glibc, string? context = null)
    {
        var differing = sim.Series.Zip(glibc.Series)
            .Where(pair => pair.First.RssBytes != pair.Second.RssBytes || pair.First.FootprintBytes != pair.Second.FootprintBytes)
            .Select(pair => string.Create(CultureInfo.InvariantCulture,
                $"op {pair.First.Seq}: sim rss {pair.First.RssBytes} footprint {pair.First.FootprintBytes}, " +
                $"glibc rss {pair.Second.RssBytes} footprint {pair.Second.FootprintBytes}"))
            .ToList();
        Assert.True(differing.Count == 0,
            $"{differing.Count} of {sim.Series.Count} samples differ{(context is null ? "" : " (" + context + ")")}: {string.Join("; ", differing.Take(5))}");
    }
}
