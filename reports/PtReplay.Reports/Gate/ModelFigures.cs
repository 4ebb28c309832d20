using PtReplay.Allocator.Parity;
using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Traces;

namespace PtReplay.Reports.Gate;

/// <summary>
/// The deterministic figures of one trace replayed into the C# ptmalloc model (engine sim, serial order, the default
/// page touch model, the recorded malloc environment), plus the model's address parity with the recording.
/// Invariant: the same trace and the same model code always give exactly the same figures (no timing, no kernel
/// state), so a gate compares them with exact equality; latency is deliberately absent.
/// </summary>
public static class ModelFigures
{
    /// <summary>Figure names, in baseline order.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "peak_live_bytes", "final_live_bytes", "peak_footprint_bytes", "final_footprint_bytes",
        "peak_rss_bytes", "final_rss_bytes", "parity_identical", "parity_allocations",
    ];

    /// <summary>Measures <paramref name="tracePath"/>; work files go to a temporary folder that is removed.</summary>
    public static IReadOnlyDictionary<string, long> Measure(string tracePath)
    {
        string work = Directory.CreateTempSubdirectory("ptreplay-gate-").FullName;
        try
        {
            ReplayReport report = ReplayRunner.RunFile(tracePath, ["sim"], work, new ReplayOptions { Touch = TouchMode.Page },
                new PreparationOptions { SampleEvery = 1000 });
            EngineResult sim = report.Results[0];
            if (sim.Error is not null)
            {
                throw new InvalidDataException($"{tracePath}: the model stopped: {sim.Error}");
            }

            var figures = new Dictionary<string, long>(StringComparer.Ordinal)
            {
                ["peak_live_bytes"] = (long)sim.PeakLiveBytes,
                ["final_live_bytes"] = (long)sim.FinalLiveBytes,
                ["peak_footprint_bytes"] = (long)sim.PeakFootprintBytes,
                ["final_footprint_bytes"] = (long)sim.FinalFootprintBytes,
                ["peak_rss_bytes"] = (long)sim.PeakRssBytes,
                ["final_rss_bytes"] = (long)sim.FinalRssBytes,
            };

            using var reader = TraceReader.Open(tracePath);
            var verifier = new TraceVerifier(reader.Header);
            ParityReport parity = verifier.Run(reader.ReadAll());
            figures["parity_identical"] = parity.Identical;
            figures["parity_allocations"] = parity.Allocations;
            return figures;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
