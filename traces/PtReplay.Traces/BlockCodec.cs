namespace PtReplay.Traces;

/// <summary>
/// How a block's payload is stored on disk (the `codec` byte of a block, traces/FORMAT.md "Blocks").
/// The numeric values are part of the format and never change; new codecs get new numbers.
/// </summary>
public enum BlockCodec : byte
{
    /// <summary>The event bytes as they are (what the recorder writes).</summary>
    Raw = 0,
    /// <summary>Deflate, RFC 1951, no zlib wrapper.</summary>
    Deflate = 1,
    /// <summary>Brotli, RFC 7932.</summary>
    Brotli = 2,
    /// <summary>Zstandard, RFC 8878 (one frame per block).</summary>
    Zstd = 3,
}
