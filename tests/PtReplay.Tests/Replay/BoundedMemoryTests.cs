using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// A long trace with a small live set: the native replayer streams the prepared file (the pages of ops it has run are
/// given back), so its peak resident memory stays far below the prepared file's size.
/// </summary>
public sealed class BoundedMemoryTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-bounded-");

    public void Dispose() => _dir.Dispose();

    /// <summary>malloc/free pairs over 64 live blocks, <paramref name="pairs"/> times: a live set of 64 whatever the length.</summary>
    private static IEnumerable<AllocEvent> Churn(long pairs)
    {
        var live = new ulong[64];
        for (long i = 0; i < pairs; i++)
        {
            int k = (int)(i % 64);
            ulong address = 0x10000UL + ((ulong)k * 0x1000UL) + ((ulong)(i / 64 % 2) * 0x100000UL);
            if (live[k] != 0)
            {
                yield return new AllocEvent { Kind = EventKind.Free, Ptr = live[k], Timestamp = (2 * i) + 1 };
            }

            yield return new AllocEvent { Kind = EventKind.Malloc, Size = (ulong)(16 + (k * 8)), Result = address, Timestamp = (2 * i) + 2 };
            live[k] = address;
        }
    }

    [Fact]
    public void LongTrace_NativeReplayerPeakRssStaysFarBelowThePreparedFile()
    {
        const long Pairs = 2_600_000; // 5.2 M ops, a prepared file of about 250 MB
        ReplayReport report = ReplayRunner.Run("churn", new TraceHeader(), Churn(Pairs), ["glibc"], _dir.NewFolder("out"),
            new ReplayOptions { NoTiming = true, Touch = TouchMode.None }, new PreparationOptions(), keepIntermediates: true);
        EngineResult glibc = report.Results.Single();
        Assert.True(glibc.Error is null, glibc.Error);
        long prepared = new FileInfo(report.Prepared.Path).Length;
        Assert.True(prepared > 160L << 20, $"prepared file {prepared} B: too small to stream");
        double peak = glibc.Extra["replayer_peak_rss_bytes"];
        Assert.True(peak > 0, "the replayer's peak RSS was not reported");
        Assert.True(peak < 64 << 20, $"the replayer peaked at {peak / 1048576:F0} MiB for a {prepared >> 20} MiB prepared file");
    }
}
