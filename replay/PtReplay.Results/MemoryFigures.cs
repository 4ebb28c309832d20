namespace PtReplay.Results;

/// <summary>
/// The memory figures of one engine, computed in one place from its series (<see cref="FromSeries"/>):
/// peaks are maxima over the samples (peak fragmentation is the fragmentation at the peak RSS), "at peak live" figures are the sample taken at the op where live bytes peaked,
/// fragmentation and the Johnstone-Wilson ratios are on the allocator's resident memory (<see cref="FigureMath"/>).
/// Invariants: every peak is at least the matching final and "at peak live" figure; fragmentation in [0, 1];
/// ratios finite and at least 0.
/// </summary>
public sealed record MemoryFigures
{
    /// <summary>Largest requested bytes live (from the trace).</summary>
    public ulong PeakLiveBytes { get; init; }

    /// <summary>Requested bytes live after the last op.</summary>
    public ulong FinalLiveBytes { get; init; }

    /// <summary>Largest sampled resident memory.</summary>
    public ulong PeakRssBytes { get; init; }

    /// <summary>Resident memory sampled at the op where live bytes peaked.</summary>
    public ulong RssAtPeakLiveBytes { get; init; }

    /// <summary>Resident memory after the last op.</summary>
    public ulong FinalRssBytes { get; init; }

    /// <summary>Largest sampled footprint (committed memory).</summary>
    public ulong PeakFootprintBytes { get; init; }

    /// <summary>Footprint sampled at the op where live bytes peaked.</summary>
    public ulong FootprintAtPeakLiveBytes { get; init; }

    /// <summary>Footprint after the last op.</summary>
    public ulong FinalFootprintBytes { get; init; }

    /// <summary>Largest sampled address space (reservations included).</summary>
    public ulong PeakAddressSpaceBytes { get; init; }

    /// <summary>Address space after the last op.</summary>
    public ulong FinalAddressSpaceBytes { get; init; }

    /// <summary>Largest allocator-reported figure.</summary>
    public ulong PeakAllocatorBytes { get; init; }

    /// <summary>Allocator-reported figure after the last op.</summary>
    public ulong FinalAllocatorBytes { get; init; }

    /// <summary>
    /// Fragmentation at the peak of resident memory: the largest among the samples whose RSS is the peak RSS. Not the
    /// largest over all samples: the first samples, a few live bytes in a fresh page, read close to 1 on every engine
    /// and every trace, which says nothing about the memory the program cost.
    /// </summary>
    public double PeakFragmentation { get; init; }

    /// <summary>Fragmentation after the last op.</summary>
    public double FinalFragmentation { get; init; }

    /// <summary>Johnstone-Wilson: resident memory at peak live / peak live.</summary>
    public double JwRssAtPeakLiveOverPeakLive { get; init; }

    /// <summary>Johnstone-Wilson: peak resident memory / peak live.</summary>
    public double JwPeakRssOverPeakLive { get; init; }

    /// <summary>Samples in the series (the final one included).</summary>
    public long Samples { get; init; }

    /// <summary>
    /// Computes the figures of a series whose last row is the state after the last op. <paramref name="peakLiveSeq"/>
    /// is the op after which live bytes peaked (-1: nothing was live); <paramref name="peakLiveBytes"/> and
    /// <paramref name="finalLiveBytes"/> come from the trace.
    /// </summary>
    public static MemoryFigures FromSeries(IReadOnlyList<SeriesRow> series, long peakLiveSeq, ulong peakLiveBytes, ulong finalLiveBytes)
    {
        ArgumentNullException.ThrowIfNull(series);
        ulong peakRss = 0, peakFootprint = 0, peakSpace = 0, peakAllocator = 0, rssAtPeak = 0, footprintAtPeak = 0;
        double peakFragmentation = 0;
        foreach (SeriesRow r in series)
        {
            peakRss = Math.Max(peakRss, r.RssBytes);
            peakFootprint = Math.Max(peakFootprint, r.FootprintBytes);
            peakSpace = Math.Max(peakSpace, r.AddressSpaceBytes);
            peakAllocator = Math.Max(peakAllocator, r.AllocatorBytes ?? 0);
            if (r.Seq == peakLiveSeq)
            {
                rssAtPeak = r.RssBytes;
                footprintAtPeak = r.FootprintBytes;
            }
        }

        foreach (SeriesRow r in series)
        {
            if (r.RssBytes == peakRss)
            {
                peakFragmentation = Math.Max(peakFragmentation, r.Fragmentation);
            }
        }

        SeriesRow last = series.Count > 0 ? series[^1] : new SeriesRow();
        return new MemoryFigures
        {
            PeakLiveBytes = peakLiveBytes,
            FinalLiveBytes = finalLiveBytes,
            PeakRssBytes = peakRss,
            RssAtPeakLiveBytes = rssAtPeak,
            FinalRssBytes = last.RssBytes,
            PeakFootprintBytes = peakFootprint,
            FootprintAtPeakLiveBytes = footprintAtPeak,
            FinalFootprintBytes = last.FootprintBytes,
            PeakAddressSpaceBytes = peakSpace,
            FinalAddressSpaceBytes = last.AddressSpaceBytes,
            PeakAllocatorBytes = peakAllocator,
            FinalAllocatorBytes = last.AllocatorBytes ?? 0,
            PeakFragmentation = FigureMath.Round(peakFragmentation),
            FinalFragmentation = FigureMath.Round(last.Fragmentation),
            JwRssAtPeakLiveOverPeakLive = FigureMath.Round(FigureMath.OverPeakLive(rssAtPeak, peakLiveBytes)),
            JwPeakRssOverPeakLive = FigureMath.Round(FigureMath.OverPeakLive(peakRss, peakLiveBytes)),
            Samples = series.Count,
        };
    }
}
