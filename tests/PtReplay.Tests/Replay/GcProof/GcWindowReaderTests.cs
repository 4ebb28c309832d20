using PtReplay.Replay.GcProof;
using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Replay.GcProof;

/// <summary>A file that is not an EventPipe stream is refused with the file's name, not a stack trace of the parser.</summary>
[Trait("Category", "Fast")]
public sealed class GcWindowReaderTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-gcreader-");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(4096)]
    public void NotAnEventPipeFile_IsRefusedNamingIt(int length)
    {
        string path = _dir.File($"junk-{length}.nettrace");
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<InvalidDataException>(() => GcWindowReader.Read(path));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }
}
