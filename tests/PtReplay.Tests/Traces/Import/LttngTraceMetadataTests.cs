using System.Text.RegularExpressions;
using PtReplay.Tests.Fuzz;
using PtReplay.Traces.Import;

namespace PtReplay.Tests.Traces.Import;

/// <summary>
/// The checks import-lttng makes before TraceEvent reads a trace, on the metadata and channel files of a real
/// LTTng-UST session (the fuzz seed, Fuzz/Seeds/lttng-ctf) and on edited copies of them.
/// </summary>
[Trait("Category", "Fast")]
public sealed partial class LttngTraceMetadataTests
{
    private static readonly string SeedMetadata = Path.Combine(FuzzTargets.LttngSeedFolder, "metadata");

    private static string SeedText => CtfMetadataText.Read(SeedMetadata);

    [Fact]
    public void SeedMetadata_GivesTheClockContextAndLibcEventsItDeclares()
    {
        string text = SeedText;
        Assert.StartsWith("/* CTF 1.8", text, StringComparison.Ordinal);
        LttngTraceMetadata m = LttngTraceMetadata.Parse(text, SeedMetadata);

        Assert.Equal("ust", m.Domain);
        Assert.Equal(ulong.Parse(ClockFreq().Match(text).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.ClockFrequency);
        Assert.Equal(long.Parse(ClockOffset().Match(text).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), m.ClockOffsetCycles);
        Assert.Equal(m.ClockOffsetCycles + 5, m.ToEpochNs(5));
        IReadOnlyList<CtfField> context = Assert.Single(m.StreamContexts).Value;
        Assert.Equal(["_vpid", "_vtid", "_procname"], context.Select(f => f.Name));
        foreach (LttngLibcEventKind kind in Enum.GetValues<LttngLibcEventKind>().Skip(1))
        {
            string name = LttngLibcTraceEventParser.EventName(kind);
            (string _, IReadOnlyList<CtfField> fields) = Assert.Single(m.Events, e => e.Name == name);
            LttngLibcLayout layout = LttngLibcLayout.FromMetadata(kind, name, fields, SeedMetadata);
            Assert.Equal(fields.Sum(f => f.TotalBits / 8), layout.Bytes);
        }
    }

    [Fact]
    public void SeedChannels_AreWholePacketsWithNothingLost()
    {
        LttngTraceMetadata m = LttngTraceMetadata.Read(SeedMetadata);
        foreach (string channel in Directory.GetFiles(FuzzTargets.LttngSeedFolder, "channel*"))
        {
            (long packets, long discarded, long lost, _) = CtfChannelScan.Scan(channel, m);
            Assert.True(packets >= 1, channel);
            Assert.Equal((0, 0), (discarded, lost));
        }
    }

    [Fact]
    public void CutChannel_FailsWithFileAndByteOffset()
    {
        LttngTraceMetadata m = LttngTraceMetadata.Read(SeedMetadata);
        string channel = Directory.GetFiles(FuzzTargets.LttngSeedFolder, "channel*").OrderByDescending(f => new FileInfo(f).Length).First();
        string cut = Path.Combine(Directory.CreateTempSubdirectory("ptreplay-ctf-cut-").FullName, "channel0_0");
        try
        {
            byte[] bytes = File.ReadAllBytes(channel);
            File.WriteAllBytes(cut, bytes[..(bytes.Length - 100)]);
            var e = Assert.Throws<LttngImportException>(() => CtfChannelScan.Scan(cut, m));
            Assert.Contains($"{cut}: byte offset ", e.Message, StringComparison.Ordinal);
            Assert.Contains("cut short", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(cut)!, recursive: true);
        }
    }

    [Fact]
    public void ThirtyTwoBitFields_AreReadAtTheirOwnOffsets()
    {
        // A 32-bit trace declares size_t and pointers as 32-bit integers: the layout follows the declarations.
        string text = SeedText.Replace("size = 64; align = 8; signed = 0; encoding = none; base = 16; } _ptr;",
            "size = 32; align = 8; signed = 0; encoding = none; base = 16; } _ptr;", StringComparison.Ordinal);
        LttngTraceMetadata m = LttngTraceMetadata.Parse(text, "edited");
        (string name, IReadOnlyList<CtfField> fields) = Assert.Single(m.Events, e => e.Name == "lttng_ust_libc:malloc");
        LttngLibcLayout layout = LttngLibcLayout.FromMetadata(LttngLibcEventKind.Malloc, name, fields, "edited");
        byte[] payload = [.. BitConverter.GetBytes(24UL), .. BitConverter.GetBytes(0x1234_5670u)];
        LttngLibcRecord r = layout.ToRecord(payload, 7, 1, 1, 1);
        Assert.Equal((24UL, 0x1234_5670UL), (r.Size, r.Result));
    }

    [Fact]
    public void OtherPayloadFields_FailNamingEventAndFields()
    {
        string text = SeedText.Replace("} _nmemb;", "} _count;", StringComparison.Ordinal);
        LttngTraceMetadata m = LttngTraceMetadata.Parse(text, "edited/metadata");
        (string name, IReadOnlyList<CtfField> fields) = Assert.Single(m.Events, e => e.Name == "lttng_ust_libc:calloc");
        var e = Assert.Throws<LttngImportException>(() => LttngLibcLayout.FromMetadata(LttngLibcEventKind.Calloc, name, fields, "edited/metadata"));
        Assert.Contains("edited/metadata: event lttng_ust_libc:calloc has payload fields (_count, _size, _ptr)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DamagedMetadataPacket_FailsWithByteOffset()
    {
        byte[] bytes = File.ReadAllBytes(SeedMetadata);
        BitConverter.TryWriteBytes(bytes.AsSpan(28), 7u);   // the first packet's packet_size: not whole bytes
        var e = Assert.Throws<LttngImportException>(() => CtfMetadataText.Decode(bytes, "m"));
        Assert.StartsWith("m: byte offset 0: ", e.Message, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"freq = (\d+);")]
    private static partial Regex ClockFreq();

    [GeneratedRegex(@"\boffset = (-?\d+);")]
    private static partial Regex ClockOffset();
}
