using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Parity;
using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Tests.Traces.Recording;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// A program that tunes its own malloc with mallopt and gives memory back with malloc_trim: both change what later
/// calls return (a 300 KiB request comes from the heap instead of its own mapping once the mmap threshold is raised),
/// so the recording must hold them and every replay must make them where the program did. Otherwise the model maps
/// the blocks glibc carved from the heap and verify finds no address in common.
/// </summary>
public sealed class MalloptReplayTests : IDisposable
{
    /// <summary>
    /// Raises the mmap threshold and the top pad, tries a value glibc refuses (M_MXFAST above 160: mallopt returns 0),
    /// allocates 300 KiB blocks (mapped under the default threshold), frees every other one, trims, allocates again.
    /// </summary>
    private const string Source = """
        #include <malloc.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        int main(void) {
            if (mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024) != 1) return 10;
            if (mallopt(M_TOP_PAD, 1024 * 1024) != 1) return 11;
            if (mallopt(M_MXFAST, 1000) != 0) return 12;
            void *p[32], *q[16];
            for (int i = 0; i < 32; i++) { p[i] = malloc(300 * 1024); memset(p[i], 1, 4096); }
            for (int i = 0; i < 32; i += 2) free(p[i]);
            malloc_trim(0);
            for (int i = 0; i < 16; i++) { q[i] = malloc(200 * 1024); memset(q[i], 2, 4096); }
            for (int i = 1; i < 32; i += 2) free(p[i]);
            for (int i = 0; i < 16; i++) free(q[i]);
            int trimmed = malloc_trim(64 * 1024);
            printf("%d\n", trimmed);
            return 0;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-mallopt-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void MalloptAndMallocTrim_AreRecorded_AndReplayedWhereTheProgramMadeThem()
    {
        string program = NativeTestBuild.Program("mallopt-trim", Source);
        string trace = _dir.File("mallopt.trace");
        RecordedRun.RecordOrThrow([program], trace, CleanEnvironment.With(new Dictionary<string, string> { ["HOME"] = _dir.Path }));

        using var reader = TraceReader.Open(trace);
        TraceHeader header = reader.Header;
        List<AllocEvent> events = [.. reader.ReadAll()];
        var settings = events.Where(e => e.Kind == EventKind.Mallopt)
            .Select(e => (Param: unchecked((int)(long)e.Count), Value: unchecked((int)(long)e.Size), e.Result)).ToList();
        Assert.Equal([(-3, 4 << 20, 1UL), (-2, 1 << 20, 1UL), (1, 1000, 0UL)], settings);
        Assert.Equal([0UL, 64UL * 1024], events.Where(e => e.Kind == EventKind.MallocTrim).Select(e => e.Size));

        // The model makes the same calls: every address glibc returned after the settings is the model's too.
        ParityReport parity = TraceVerifier.Run(header, events);
        Assert.True(parity.FullParity, parity.Summary);

        // glibc, replayed natively, gets the same settings: the model and a serial glibc replay agree at every sample.
        ReplayReport report = ReplayRunner.Run(trace, header, events, ["glibc", "sim"], _dir.NewFolder("out"),
            new ReplayOptions { NoTiming = true, Threads = ThreadMode.Serial }, new PreparationOptions { SampleEvery = 4 });
        EngineResult glibc = report.Results.Single(r => r.Engine == "glibc");
        EngineResult sim = report.Results.Single(r => r.Engine == "sim");
        Assert.True(glibc.Error is null, glibc.Error);
        Assert.True(sim.Error is null, sim.Error);
        Assert.True(sim.Series.Count > 10, $"only {sim.Series.Count} samples");
        SeriesAgreement.AssertSameRssAndFootprint(sim, glibc);
        Assert.Equal(sim.PeakFootprintBytes, glibc.PeakFootprintBytes);

        // `pack` rewrites the events with the C# encoder: they read back the same; `info` counts them.
        string packed = _dir.File("packed.trace");
        var pack = CliRunner.Run("pack", trace, "-o", packed);
        Assert.True(pack.ExitCode == 0, pack.Stderr);
        using (var again = TraceReader.Open(packed))
        {
            Assert.Equal(events, again.ReadAll().ToList());
        }

        var info = CliRunner.Run("info", packed);
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.Contains("allocator  mallopt 3, malloc_trim 2", info.Stdout, StringComparison.Ordinal);
    }
}
