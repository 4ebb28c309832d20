using System.Globalization;
using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Native;
using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// RSS, footprint (committed) and address space are the allocator's memory as the kernel counts it, the harness's own
/// memory left out, on real recordings: a do-nothing allocator reads (nearly) zero, and the model and a serial glibc
/// replay agree at every sample on RSS and footprint.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class MemoryFigureTests(Recordings recordings)
{
    private const ulong HarnessLimit = 64 * 1024;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NullAllocator_ReadsNearlyZero(bool multiThread)
    {
        string trace = multiThread ? recordings.MultiThread : recordings.Python;
        EngineResult glibc = Replay(trace, ["glibc"], new ReplayOptions { NullAllocator = true }).Single();

        Assert.True(glibc.Error is null, glibc.Error);
        Assert.True(glibc.PeakRssBytes <= HarnessLimit, $"peak RSS {glibc.PeakRssBytes} B with a do-nothing allocator");
        Assert.True(glibc.PeakFootprintBytes <= HarnessLimit, $"peak footprint {glibc.PeakFootprintBytes} B with a do-nothing allocator");
        Assert.True(glibc.Memory.PeakAddressSpaceBytes <= HarnessLimit,
            $"peak address space {glibc.Memory.PeakAddressSpaceBytes} B with a do-nothing allocator");
        Assert.True(glibc.Extra["harness_rss_bytes"] > 0, "the harness's own memory was not measured");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SimAndSerialGlibc_SameRssAndFootprintAtEverySample(bool multiThread)
    {
        string trace = multiThread ? recordings.MultiThread : recordings.Python;
        var results = Replay(trace, ["glibc", "sim"], new ReplayOptions { SimPreamble = PtReplay.Replay.Sim.SimPreambleMode.Auto });
        EngineResult glibc = results.Single(r => r.Engine == "glibc");
        EngineResult sim = results.Single(r => r.Engine == "sim");
        Assert.True(glibc.Error is null, glibc.Error);
        Assert.True(sim.Error is null, sim.Error);

        Assert.True(sim.Series.Count > 20, $"only {sim.Series.Count} samples");
        Assert.Equal(glibc.Series.Select(p => p.Seq), sim.Series.Select(p => p.Seq));
        SeriesAgreement.AssertSameRssAndFootprint(sim, glibc);
        // Address space held and the allocator's own statistic (where glibc's replay read it) agree too.
        var otherColumns = sim.Series.Zip(glibc.Series)
            .Where(pair => pair.First.AddressSpaceBytes != pair.Second.AddressSpaceBytes
                || (pair.Second.AllocatorBytes is not null && pair.First.AllocatorBytes != pair.Second.AllocatorBytes))
            .Select(pair => string.Create(CultureInfo.InvariantCulture,
                $"op {pair.First.Seq}: sim address space {pair.First.AddressSpaceBytes} allocator {pair.First.AllocatorBytes}, " +
                $"glibc address space {pair.Second.AddressSpaceBytes} allocator {pair.Second.AllocatorBytes}"))
            .ToList();
        Assert.True(otherColumns.Count == 0, $"{otherColumns.Count} of {sim.Series.Count} samples differ: {string.Join("; ", otherColumns.Take(5))}");
        Assert.True(glibc.PeakRssBytes > glibc.PeakLiveBytes / 2, $"peak RSS {glibc.PeakRssBytes} B for {glibc.PeakLiveBytes} B live");
    }

    /// <summary>
    /// The allocator's resident pages lie in memory it committed, so its RSS never exceeds its footprint, and memory it
    /// mapped at start-up is its own: a mapping that happens to start where the harness's results file ends (mmap
    /// places them side by side) once read as a loaded object's zero-fill tail, and jemalloc showed a footprint of 0
    /// under 300 KiB of RSS on a small trace.
    /// </summary>
    [Theory]
    [InlineData("jemalloc")]
    [InlineData("tcmalloc")]
    [InlineData("mimalloc")]
    public void OtherAllocators_RssWithinFootprintAtEverySample(string engine)
    {
        Requires.Engines([engine]);
        foreach (string trace in new[] { recordings.Sqlite, recordings.Python })
        {
            EngineResult result = Replay(trace, [engine], new ReplayOptions()).Single();
            Assert.True(result.Error is null, result.Error);
            var over = result.Series.Where(p => p.RssBytes > p.FootprintBytes)
                .Select(p => string.Create(CultureInfo.InvariantCulture, $"op {p.Seq}: RSS {p.RssBytes} B, footprint {p.FootprintBytes} B"))
                .ToList();
            Assert.True(over.Count == 0, $"{engine} on {Path.GetFileName(trace)}: {over.Count} of {result.Series.Count} samples " +
                                         $"with more resident than committed memory: {string.Join("; ", over.Take(5))}");
            Assert.True(result.PeakFootprintBytes > 0, $"{engine} on {Path.GetFileName(trace)}: footprint 0 under {result.PeakRssBytes} B of RSS");
        }
    }

    [Fact]
    public void Glibc_AllocatorReportedFigureIsMallinfo2()
    {
        EngineResult glibc = Replay(recordings.MultiThread, ["glibc"], new ReplayOptions()).Single();

        Assert.True(glibc.Error is null, glibc.Error);
        Assert.Equal(glibc.Extra["mallinfo2_arena"] + glibc.Extra["mallinfo2_hblkhd"], glibc.Memory.FinalAllocatorBytes);
        Assert.Equal(glibc.Series.Count - 1, (int)glibc.Extra["samples"]);
        Assert.True(glibc.Extra["allocator_bytes_samples"] >= 1);
        // Samples whose statistic was read carry it; the others leave the column empty rather than 0.
        Assert.Equal((int)glibc.Extra["allocator_bytes_samples"], glibc.Series.SkipLast(1).Count(p => p.AllocatorBytes is not null));
        Assert.True(glibc.Series.SkipLast(1).Where(p => p.AllocatorBytes is not null).All(p => p.AllocatorBytes > 0));
        // Arena heaps shrink by madvise, keeping their read/write size: the kernel's committed figure is at least glibc's own.
        Assert.True(glibc.FinalFootprintBytes >= glibc.Memory.FinalAllocatorBytes);
        // Each arena heap reserves 64 MiB of address space, in the series as in the peak.
        Assert.True(glibc.Memory.PeakAddressSpaceBytes >= 64UL * 1024 * 1024, "no arena heap reservation seen");
        Assert.Equal(glibc.Memory.PeakAddressSpaceBytes, glibc.Series.Max(p => p.AddressSpaceBytes));
        Assert.True(glibc.SamplingNs > 0, "sampling time was not reported");
    }

    /// <summary>
    /// Peak fragmentation is the fragmentation at the peak RSS: the largest over all samples was always the first
    /// sample's (a few live bytes in a fresh page), 0.99-1 on every engine and every recording of a make -j2 build.
    /// </summary>
    [Fact]
    public void PeakFragmentation_IsAtPeakRss_NotTheNearlyEmptyFirstSample()
    {
        foreach (EngineResult result in Replay(recordings.Sqlite, ["sim", "glibc"], new ReplayOptions()))
        {
            Assert.True(result.Error is null, result.Error);
            double atPeakRss = result.Series.Where(p => p.RssBytes == result.Memory.PeakRssBytes).Max(p => p.Fragmentation);
            Assert.Equal(Math.Round(atPeakRss, 4), result.Memory.PeakFragmentation);
            double first = result.Series[0].Fragmentation;
            Assert.True(first > 0.9 && result.Memory.PeakFragmentation < first - 0.1,
                $"{result.Engine}: first sample {first}, peak fragmentation {result.Memory.PeakFragmentation}: the recording no longer shows the difference");
        }
    }

    private List<EngineResult> Replay(string trace, IReadOnlyList<string> engines, ReplayOptions options)
    {
        string outDir = recordings.NewFolder("figures");
        using var reader = TraceReader.Open(trace);
        ReplayReport report = ReplayRunner.Run(trace, reader.Header, reader.ReadAll(), engines, outDir,
            options with { NoTiming = true }, new PreparationOptions { SampleEvery = 500 });
        Assert.Equal(0, report.Prepared.IssueCount);
        return [.. report.Results];
    }
}
