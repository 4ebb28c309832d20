namespace PtReplay.Traces;

/// <summary>How <see cref="TraceWriter"/> cuts and stores blocks.</summary>
public sealed class TraceWriterOptions
{
    /// <summary>What a writer uses when given no options: the same as <see cref="Packed"/>.</summary>
    public static TraceWriterOptions Default { get; } = new();

    /// <summary>
    /// What `ptreplay pack` writes: zstd level 6 in blocks of 65536 events. Chosen by measurement on a real
    /// CPython recording (README "Trace format: measured"): zstd 6 is within 0.2 bytes/event of zstd 19 and
    /// 8 times faster to write; brotli 11 is 15% smaller but 30 times slower to write and slower to read.
    /// </summary>
    public static TraceWriterOptions Packed { get; } = new();

    /// <summary>Payload codec of every block. Default zstd.</summary>
    public BlockCodec Codec { get; init; } = BlockCodec.Zstd;

    /// <summary>Codec level: zstd 1..22, brotli quality 0..11, deflate 1 (optimal) / 2 (smallest) / negative (fastest). 0 = the codec's default here: zstd 6, brotli 5, deflate smallest.</summary>
    public int Level { get; init; }

    /// <summary>
    /// The levels <paramref name="codec"/> accepts, 0 (the default here) included: zstd 1..22, brotli 0..11,
    /// deflate -1 (fastest), 1 (optimal), 2 (smallest), raw 0 only.
    /// </summary>
    public static (int Min, int Max) LevelRange(BlockCodec codec) => codec switch
    {
        BlockCodec.Zstd => (0, 22),
        BlockCodec.Brotli => (0, 11),
        BlockCodec.Deflate => (-1, 2),
        _ => (0, 0),
    };

    /// <summary>A block is written when it holds this many events (more events per block compress better; the reader keeps about one decoded block per thread in memory).</summary>
    public int EventsPerBlock { get; init; } = 65536;

    /// <summary>A block is also written when its raw payload reaches this many bytes.</summary>
    public int MaxBlockBytes { get; init; } = 1 << 20;
}
