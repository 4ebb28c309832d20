using System.IO.Compression;
using ZstdSharp;

namespace PtReplay.Traces.Format;

/// <summary>Compresses and decompresses block payloads with the codecs of <see cref="BlockCodec"/>.</summary>
internal static class BlockCompression
{
    /// <summary>True for the codecs this version can read.</summary>
    public static bool IsKnown(byte codec) => codec <= (byte)BlockCodec.Zstd;

    /// <summary>
    /// Compresses <paramref name="source"/> into <paramref name="destination"/> (grown as needed); returns the stored length.
    /// <paramref name="preferNative"/>: zstd through the system's libzstd where it loads (<see cref="NativeZstd"/>): the
    /// same format, other bytes than the managed port may choose, so callers whose output is compared byte for byte
    /// leave it false.
    /// </summary>
    public static int Compress(BlockCodec codec, int level, ReadOnlySpan<byte> source, ref byte[] destination, bool preferNative = false)
    {
        switch (codec)
        {
            case BlockCodec.Raw:
                EnsureLength(ref destination, source.Length);
                source.CopyTo(destination);
                return source.Length;
            case BlockCodec.Zstd:
            {
                int bound = Compressor.GetCompressBound(source.Length);
                EnsureLength(ref destination, bound);
                return preferNative && NativeZstd.Available
                    ? NativeZstd.Compress(level == 0 ? 6 : level, source, destination)
                    : ZstdCompressor(level == 0 ? 6 : level).Wrap(source, destination);
            }

            case BlockCodec.Brotli:
            {
                int bound = BrotliEncoder.GetMaxCompressedLength(source.Length);
                EnsureLength(ref destination, bound);
                if (!BrotliEncoder.TryCompress(source, destination, out int written, level == 0 ? 5 : level, 24))
                {
                    throw new InvalidOperationException("brotli compression failed");
                }

                return written;
            }

            case BlockCodec.Deflate:
            {
                var ms = new MemoryStream(source.Length / 2 + 64);
                CompressionLevel l = level switch { 1 => CompressionLevel.Optimal, 2 => CompressionLevel.SmallestSize, _ => level < 0 ? CompressionLevel.Fastest : CompressionLevel.SmallestSize };
                using (var deflate = new DeflateStream(ms, l, leaveOpen: true))
                {
                    deflate.Write(source);
                }

                int length = (int)ms.Length;
                EnsureLength(ref destination, length);
                ms.GetBuffer().AsSpan(0, length).CopyTo(destination);
                return length;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(codec), codec, "unknown codec");
        }
    }

    /// <summary>Decodes a stored payload into exactly <c>destination.Length</c> bytes; returns null or what went wrong.</summary>
    public static string? Decompress(byte codec, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        try
        {
            switch ((BlockCodec)codec)
            {
                case BlockCodec.Raw:
                    if (source.Length != destination.Length)
                    {
                        return $"raw block stores {source.Length} bytes but raw_len is {destination.Length}";
                    }

                    source.CopyTo(destination);
                    return null;
                case BlockCodec.Zstd:
                {
                    int n = (_decompressor ??= new Decompressor()).Unwrap(source, destination);
                    return n == destination.Length ? null : $"zstd payload decodes to {n} bytes, raw_len is {destination.Length}";
                }

                case BlockCodec.Brotli:
                {
                    if (!BrotliDecoder.TryDecompress(source, destination, out int n))
                    {
                        return "brotli payload does not decode (or decodes to more than raw_len bytes)";
                    }

                    return n == destination.Length ? null : $"brotli payload decodes to {n} bytes, raw_len is {destination.Length}";
                }

                case BlockCodec.Deflate:
                {
                    unsafe
                    {
                        fixed (byte* s = source)
                        {
                            using var input = new UnmanagedMemoryStream(s, source.Length);
                            using var inflate = new DeflateStream(input, CompressionMode.Decompress);
                            int n = inflate.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
                            if (n != destination.Length)
                            {
                                return $"deflate payload decodes to {n} bytes, raw_len is {destination.Length}";
                            }

                            Span<byte> probe = stackalloc byte[1];
                            return inflate.Read(probe) == 0 ? null : $"deflate payload decodes to more than raw_len ({destination.Length}) bytes";
                        }
                    }
                }

                default:
                    return $"unknown codec {codec}";
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or ZstdException or ArgumentException or IOException)
        {
            return $"{(BlockCodec)codec} payload does not decode: {ex.Message}";
        }
    }

    // A zstd context holds several hundred KiB of tables: made once per thread (and level), not per block.
    [ThreadStatic]
    private static Decompressor? _decompressor;

    [ThreadStatic]
    private static Compressor? _compressor;

    [ThreadStatic]
    private static int _compressorLevel;

    private static Compressor ZstdCompressor(int level)
    {
        if (_compressor is null || _compressorLevel != level)
        {
            _compressor?.Dispose();
            _compressor = new Compressor(level);
            _compressorLevel = level;
        }

        return _compressor;
    }

    private static void EnsureLength(ref byte[] buffer, int length)
    {
        if (buffer.Length < length)
        {
            buffer = new byte[Math.Max(length, buffer.Length * 2)];
        }
    }
}
