using PtReplay.Replay.Parity;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Results;

namespace PtReplay.Replay.Gate;

/// <summary>
/// The deterministic figures of one trace replayed into the C# ptmalloc model (engine sim, serial order, the default
/// page touch model, the recorded malloc environment), plus the model's address parity with the recording
/// (<see cref="GateFigures"/>), both from one run: the sim engine with its address check (<see cref="ReplayOptions.CheckAddresses"/>),
/// the same preparation and event rules as `replay --engine sim` and `verify`. Invariant: the same trace and the same model code always give exactly the same figures
/// (no timing, no kernel state), so a gate compares them with exact equality; latency is deliberately absent.
/// </summary>
public static class ModelGate
{
    /// <summary>Measures <paramref name="tracePath"/>; work files go to a temporary folder that is removed.</summary>
    public static IReadOnlyDictionary<string, long> Measure(string tracePath)
    {
        string work = Directory.CreateTempSubdirectory("ptreplay-gate-").FullName;
        try
        {
            ReplayReport report = ReplayRunner.RunFile(tracePath, ["sim"], work,
                new ReplayOptions { Touch = TouchMode.Page, NoTiming = true, CheckAddresses = true }, new PreparationOptions { SampleEvery = 1000 });
            EngineResult sim = report.Results[0];
            if (sim.Error is not null)
            {
                throw new InvalidDataException($"{tracePath}: the model stopped: {sim.Error}");
            }

            ParityReport parity = sim.Parity!.Report;
            return GateFigures.Of(sim.Memory, parity.Identical, parity.Allocations);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
