using CsvHelper;

namespace PtReplay.Results;

/// <summary>
/// One sample of live-by-size.csv: the trace's live requested bytes after op <see cref="Seq"/>, split by request size
/// class (the classes of the latency tables: at most 64 B, 256 B, 1 KiB, 4 KiB, 32 KiB, 128 KiB, 1 MiB, and larger).
/// The figures come from the recording alone, so one file serves every engine; samples are the series' sample points.
/// <code>seq,ts_ns,le_64,le_256,le_1024,le_4096,le_32768,le_131072,le_1048576,gt_1048576</code>
/// Invariant: the class columns sum to the series' live_bytes at the same seq; rows are in seq order.
/// </summary>
[CsvRecord]
public sealed partial record LiveBySizeRow
{
    /// <summary>Global op position the sample follows.</summary>
    [CsvColumn("seq")]
    public long Seq { get; init; }

    /// <summary>Recorded time of that op, ns after the trace's start.</summary>
    [CsvColumn("ts_ns")]
    public long TimestampNs { get; init; }

    /// <summary>Live bytes of requests of at most 64 bytes.</summary>
    [CsvColumn("le_64")]
    public ulong UpTo64 { get; init; }

    /// <summary>Live bytes of requests of 65-256 bytes.</summary>
    [CsvColumn("le_256")]
    public ulong UpTo256 { get; init; }

    /// <summary>Live bytes of requests of 257-1024 bytes.</summary>
    [CsvColumn("le_1024")]
    public ulong UpTo1K { get; init; }

    /// <summary>Live bytes of requests of 1025-4096 bytes.</summary>
    [CsvColumn("le_4096")]
    public ulong UpTo4K { get; init; }

    /// <summary>Live bytes of requests of 4097-32768 bytes.</summary>
    [CsvColumn("le_32768")]
    public ulong UpTo32K { get; init; }

    /// <summary>Live bytes of requests of 32769-131072 bytes.</summary>
    [CsvColumn("le_131072")]
    public ulong UpTo128K { get; init; }

    /// <summary>Live bytes of requests of 131073-1048576 bytes.</summary>
    [CsvColumn("le_1048576")]
    public ulong UpTo1M { get; init; }

    /// <summary>Live bytes of requests above 1 MiB.</summary>
    [CsvColumn("gt_1048576")]
    public ulong Above1M { get; init; }

    /// <summary>Number of size classes (columns after ts_ns).</summary>
    public const int Classes = 8;

    /// <summary>Column names of the classes, smallest first: the legend of a plot.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["<=64 B", "<=256 B", "<=1 KiB", "<=4 KiB", "<=32 KiB", "<=128 KiB", "<=1 MiB", ">1 MiB"];

    /// <summary>The class figures, smallest class first.</summary>
    public ulong[] ByClass() => [UpTo64, UpTo256, UpTo1K, UpTo4K, UpTo32K, UpTo128K, UpTo1M, Above1M];

    /// <summary>A row from the class figures, smallest class first (exactly <see cref="Classes"/> of them).</summary>
    public static LiveBySizeRow From(long seq, long timestampNs, ReadOnlySpan<ulong> byClass)
    {
        if (byClass.Length != Classes)
        {
            throw new ArgumentException($"expected {Classes} size classes, got {byClass.Length}", nameof(byClass));
        }

        return new LiveBySizeRow
        {
            Seq = seq,
            TimestampNs = timestampNs,
            UpTo64 = byClass[0],
            UpTo256 = byClass[1],
            UpTo1K = byClass[2],
            UpTo4K = byClass[3],
            UpTo32K = byClass[4],
            UpTo128K = byClass[5],
            UpTo1M = byClass[6],
            Above1M = byClass[7],
        };
    }
}

/// <summary>Writes and reads live-by-size.csv (<see cref="LiveBySizeRow"/>).</summary>
public static class LiveBySizeCsv
{
    /// <summary>The file in a replay output folder.</summary>
    public static string PathIn(string directory) => Path.Combine(directory, "live-by-size.csv");

    /// <summary>Writes the rows with a header line.</summary>
    public static void Write(string path, IEnumerable<LiveBySizeRow> rows) => CsvFiles.Write(path, rows);

    /// <summary>Reads the rows; empty when the file is absent.</summary>
    public static IReadOnlyList<LiveBySizeRow> Read(string path) => CsvFiles.Read<LiveBySizeRow>(path);
}
