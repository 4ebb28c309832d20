using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Replay.Timing;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Sim;

/// <summary>
/// An untimed, unchecked replay runs the ops between the loop's events in <c>SimEngine.RunPlain</c>: on every bundled
/// sample (sampled often, so the plain runs are cut short many times) it reports the same calls, series, memory figures
/// and model state as a timed replay that logs every address, which takes the engine's general loop for every op.
/// </summary>
[Trait("Category", "Fast")]
public sealed class SimPlainLoopTests : IDisposable
{
    /// <summary>Extra figures that are times (they differ run to run); every other extra figure is the model's state.</summary>
    private static readonly HashSet<string> TimeFigures = new(StringComparer.Ordinal) { "sampling_ns", "elapsed_ns", "timed_jit_methods", "timed_jit_ns", "stream_wait_ns" };

    private readonly TempDir _dir = new("ptreplay-plain-");

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Samples() => new(RepoFiles.SampleTraces.Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Samples))]
    public void UntimedReplay_MatchesTheGeneralLoop(string sample)
    {
        using var reader = TraceReader.Open(RepoFiles.SampleTraces.Single(p => Path.GetFileName(p) == sample));
        PreparedTrace trace = TracePreparer.Prepare(reader.ReadAll(), _dir.File(sample + ".prep"), new PreparationOptions { SampleEvery = 97 });

        var addresses = new List<ulong>();
        EngineResult general = SimEngine.Run(trace, reader.Header, new ReplayOptions(), null, ModelTimer.Default, addresses);
        EngineResult plain = SimEngine.Run(trace, reader.Header, new ReplayOptions { NoTiming = true }, null);

        Assert.True(general.Error is null, general.Error);
        Assert.True(plain.Error is null, plain.Error);
        Assert.Equal(trace.CallCount, addresses.Count);
        Assert.Equal(trace.CallCount, plain.Calls);
        Assert.Equal(general.Calls, plain.Calls);
        Assert.True(plain.Series.Count > 10, $"{plain.Series.Count} samples");
        Assert.Equal(general.Series, plain.Series);
        Assert.Equal(general.Memory, plain.Memory);
        var generalState = general.Extra.Where(kv => !TimeFigures.Contains(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        var plainState = plain.Extra.Where(kv => !TimeFigures.Contains(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        Assert.NotEmpty(plainState);
        Assert.Equal(generalState, plainState);
    }
}
