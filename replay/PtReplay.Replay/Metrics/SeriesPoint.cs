using PtReplay.Results;

namespace PtReplay.Replay.Metrics;

/// <summary>
/// One sample of an engine's memory over the replay, taken after op <see cref="Seq"/> (every N calls
/// and at new live peaks; the points the prepared trace marks). Each column is measured the same way by every
/// engine (README, "What each figure means"); a column the engine does not measure stays 0.
/// </summary>
/// <param name="Seq">Global op position.</param>
/// <param name="LiveBytes">Requested bytes live (as recorded).</param>
/// <param name="FootprintBytes">Writable private address space the allocator holds (committed).</param>
/// <param name="RssBytes">The allocator's resident memory.</param>
public readonly record struct SeriesPoint(long Seq, ulong LiveBytes, ulong FootprintBytes, ulong RssBytes)
{
    /// <summary>All address space the allocator mapped, reservations included.</summary>
    public ulong AddressSpaceBytes { get; init; }

    /// <summary>Recorded time of op <see cref="Seq"/> (ns after the trace's start); null where unknown.</summary>
    public long? TimestampNs { get; init; }

    /// <summary>
    /// What the allocator itself reports holding (see <see cref="EngineResult.AllocatorBytesSource"/>); null where it was not
    /// read (the allocator reports nothing, or the read was skipped to keep its cost within the sampling budget).
    /// </summary>
    public ulong? AllocatorBytes { get; init; }

    /// <summary>(rss - live) / rss clamped to [0, 1] (<see cref="FigureMath.Fragmentation"/>).</summary>
    public double Fragmentation => FigureMath.Fragmentation(LiveBytes, RssBytes);

    /// <summary>The sample as a row of series-ENGINE.csv.</summary>
    public SeriesRow ToRow() => new()
    {
        Seq = Seq,
        TimestampNs = TimestampNs,
        LiveBytes = LiveBytes,
        RssBytes = RssBytes,
        FootprintBytes = FootprintBytes,
        AddressSpaceBytes = AddressSpaceBytes,
        AllocatorBytes = AllocatorBytes,
    };
}
