using CsvHelper;

namespace PtReplay.Results;

/// <summary>
/// One sample of series-ENGINE.csv, taken after op <see cref="Seq"/>. Every engine measures each column the same way
/// (README, "What each figure means"); a column an engine cannot measure is 0.
/// The CsvHelper source generator writes the one mapping that <see cref="SeriesCsv"/> uses to write and to read:
/// <code>seq,live_bytes,rss_bytes,footprint_bytes,address_space_bytes,allocator_bytes,ts_ns,fragmentation</code>
/// Invariant: <see cref="Fragmentation"/> = <see cref="FigureMath.Fragmentation"/>(live, rss), in [0, 1]; it is written
/// for other tools and recomputed, not read, when the file is read back.
/// </summary>
[CsvRecord]
public sealed partial record SeriesRow
{
    /// <summary>Global op position the sample follows.</summary>
    [CsvColumn("seq")]
    public long Seq { get; init; }

    /// <summary>Requested bytes live per the trace.</summary>
    [CsvColumn("live_bytes")]
    public ulong LiveBytes { get; init; }

    /// <summary>The allocator's resident memory (pages the kernel backs).</summary>
    [CsvColumn("rss_bytes")]
    public ulong RssBytes { get; init; }

    /// <summary>Writable private address space the allocator holds (committed).</summary>
    [CsvColumn("footprint_bytes")]
    public ulong FootprintBytes { get; init; }

    /// <summary>All address space the allocator mapped, reservations included.</summary>
    [CsvColumn("address_space_bytes", Optional = true)]
    public ulong AddressSpaceBytes { get; init; }

    /// <summary>
    /// What the allocator itself reports holding (mallinfo2, stats.mapped, ...; see the engine's allocator_bytes_source); empty
    /// where it was not read (a native engine reads it only while its reads stay within 1 % of the replay time).
    /// </summary>
    [CsvColumn("allocator_bytes", Optional = true)]
    public ulong? AllocatorBytes { get; init; }

    /// <summary>Recorded time of op <see cref="Seq"/>, ns after the trace's start; empty where unknown (files written before it existed).</summary>
    [CsvColumn("ts_ns", Optional = true)]
    public long? TimestampNs { get; init; }

    /// <summary>(rss - live) / rss clamped to [0, 1].</summary>
    /// <remarks>The setter takes nothing: a value read from a file is replaced by the one computed from live and rss.</remarks>
    [CsvColumn("fragmentation", Optional = true)]
    public double Fragmentation
    {
        get => FigureMath.Fragmentation(LiveBytes, RssBytes);
        init { }
    }
}
