namespace PtReplay.Traces;

/// <summary>How <see cref="TraceWriter"/> cuts and stores blocks.</summary>
public sealed class TraceWriterOptions
{
    /// <summary>The defaults `ptreplay pack` uses: see <see cref="Packed"/>.</summary>
    public static TraceWriterOptions Default { get; } = new();

    /// <summary>Compact long-term storage, what `ptreplay pack` writes (codec and level chosen by measurement, README "Trace format: measured").</summary>
    public static TraceWriterOptions Packed { get; } = new();

    /// <summary>Payload codec of every block. Default zstd.</summary>
    public BlockCodec Codec { get; init; } = BlockCodec.Zstd;

    /// <summary>Codec level: zstd 1..22, brotli quality 0..11, deflate 0 (fastest) / 1 (optimal) / 2 (smallest). 0 = the codec's default for packing.</summary>
    public int Level { get; init; }

    /// <summary>A block is written when it holds this many events (more events per block compress better; the reader keeps about one decoded block per thread in memory).</summary>
    public int EventsPerBlock { get; init; } = 65536;

    /// <summary>A block is also written when its raw payload reaches this many bytes.</summary>
    public int MaxBlockBytes { get; init; } = 1 << 20;
}
