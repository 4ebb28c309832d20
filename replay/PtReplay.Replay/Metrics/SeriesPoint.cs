namespace PtReplay.Replay.Metrics;

/// <summary>
/// One sample of an engine's memory over the replay, taken after op <see cref="Seq"/> (every N calls
/// and at new live peaks; the points the prepared trace marks).
/// </summary>
/// <param name="Seq">Global op position.</param>
/// <param name="LiveBytes">Requested bytes live (as recorded).</param>
/// <param name="FootprintBytes">Memory the allocator holds from the system (engine-specific source, see README).</param>
/// <param name="RssBytes">Resident memory attributable to the replay (engine-specific source, see README).</param>
public readonly record struct SeriesPoint(long Seq, ulong LiveBytes, ulong FootprintBytes, ulong RssBytes)
{
    /// <summary>1 - live/footprint: the share of the footprint not holding live data (0 when footprint is 0).</summary>
    public double Fragmentation => FootprintBytes == 0 ? 0 : 1.0 - ((double)LiveBytes / FootprintBytes);
}
