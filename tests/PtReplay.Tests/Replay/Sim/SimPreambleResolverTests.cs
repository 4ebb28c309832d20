using PtReplay.Replay;
using PtReplay.Replay.Sim;
using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Replay.Sim;

/// <summary>
/// The pieces of the sim preamble: the CLI value's parsing, and the probe run of the native replayer that
/// measures glibc's setup use without replaying the trace (checked against glibc's own growth per thread).
/// </summary>
[Trait("Category", "Fast")]
public sealed class SimPreambleResolverTests
{
    [Theory]
    [InlineData("auto", SimPreambleMode.Auto, 0UL)]
    [InlineData("AUTO", SimPreambleMode.Auto, 0UL)]
    [InlineData("none", SimPreambleMode.Explicit, 0UL)]
    [InlineData("0", SimPreambleMode.Explicit, 0UL)]
    [InlineData("32", SimPreambleMode.Explicit, 32UL)]
    [InlineData("3040", SimPreambleMode.Explicit, 3040UL)]
    [InlineData("0xbe0", SimPreambleMode.Explicit, 3040UL)]
    public void Parse_AcceptsAutoNoneAndChunkSizes(string text, SimPreambleMode mode, ulong bytes)
    {
        Assert.Null(SimPreambleResolver.TryParse(text, out SimPreambleMode gotMode, out ulong gotBytes));
        Assert.Equal(mode, gotMode);
        Assert.Equal(bytes, gotBytes);
    }

    [Theory]
    [InlineData("24")]
    [InlineData("3041")]
    [InlineData("-32")]
    [InlineData("0xzz")]
    [InlineData("")]
    public void Parse_RefusesWhatIsNotAChunkSize(string text)
    {
        string? error = SimPreambleResolver.TryParse(text, out _, out _);
        Assert.NotNull(error);
        Assert.True(error.Contains("is not a chunk size", StringComparison.Ordinal) ||
            error.Contains("is not auto, none or a byte count", StringComparison.Ordinal), error);
    }

    /// <summary>
    /// glibc's setup use under the replayer grows by one DTV per extra thread and, with one worker thread,
    /// is the main thread's tcache block plus that DTV: the tcache block the resolver subtracts (the model's)
    /// must be glibc's. With one thread the replayer leaves the heap untouched.
    /// </summary>
    [Fact]
    public void Probe_SetupIsTheModelsTcacheBlockPlusOneDtvPerWorkerThread()
    {
        using var dir = new TempDir("ptreplay-probe-");
        var env = new Dictionary<string, string>();
        var options = new ReplayOptions();
        ulong[] setup = new ulong[4];
        for (int threads = 1; threads <= 3; threads++)
        {
            var (bytes, error) = SimPreambleResolver.Probe(threads, options, env, dir.Path);
            Assert.True(bytes is not null, error);
            setup[threads] = bytes.Value;
        }

        Assert.Equal(0UL, setup[1]);
        ulong dtv = setup[3] - setup[2];
        Assert.True(dtv >= 32 && dtv % 16 == 0, $"DTV chunk {dtv}");
        Assert.Equal(SimPreambleResolver.ModelTcacheChunkBytes, setup[2] - dtv);
    }
}
