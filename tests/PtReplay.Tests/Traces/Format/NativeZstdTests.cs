using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Recording;
using PtReplay.Traces;
using PtReplay.Traces.Format;

namespace PtReplay.Tests.Traces.Format;

/// <summary>
/// `record`'s packer compresses with the system's libzstd (<see cref="NativeZstd"/>): on a real recording's bytes its
/// frames decode, with the reader's decoder, to exactly the input, as the managed port's do, at the packer's level.
/// </summary>
public sealed class NativeZstdTests
{
    [Fact]
    public void RecorderBytes_CompressedByLibzstd_DecodeToThemselves_AsTheManagedPortsDo()
    {
        Requires.Package("libzstd1", "libzstd.so.1");
        Assert.True(NativeZstd.Available, "libzstd.so.1 is installed but was not loaded");
        using var dir = new TempDir();
        string raw = dir.File("py.trace");
        RecordedRun.RecordOrThrow([RealPrograms.Python, Path.Combine(RepoFiles.Workloads, "python_work.py"), "2"], raw,
            CleanEnvironment.With(RecordingRuns.BaseEnvironment(dir.Path), RealPrograms.PythonEnvironment()));
        const int Chunk = 256 * 1024; // the recorder's block size
        byte[] bytes = File.ReadAllBytes(raw);
        Assert.True(bytes.Length > 4 * Chunk, $"{bytes.Length} bytes recorded");
        byte[] native = [], managed = [];
        for (int offset = 0; offset < bytes.Length; offset += Chunk)
        {
            ReadOnlySpan<byte> input = bytes.AsSpan(offset, Math.Min(Chunk, bytes.Length - offset));
            int n = BlockCompression.Compress(BlockCodec.Zstd, TracePacker.RepackLevel, input, ref native, preferNative: true);
            int m = BlockCompression.Compress(BlockCodec.Zstd, TracePacker.RepackLevel, input, ref managed);
            if (input.Length == Chunk)
            {
                Assert.True(n < input.Length, "libzstd did not compress");
                Assert.InRange(n, m * 0.9, m * 1.1); // the same level: within a few percent of the managed port's size
            }

            byte[] decoded = new byte[input.Length];
            Assert.Null(BlockCompression.Decompress((byte)BlockCodec.Zstd, native.AsSpan(0, n), decoded));
            Assert.True(input.SequenceEqual(decoded), $"block at {offset}: libzstd's frame decodes to other bytes");
        }
    }
}
