using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// `--pace recorded`: the prepared trace carries each op's recorded time, and the native replayer sleeps where the
/// program paused. Checked on what the replay reports from the recorded timestamps, never on a clock.
/// </summary>
public sealed class PaceTests : IDisposable
{
    private const long PauseNs = 300_000_000;

    /// <summary>Two allocation phases with a 0.3 s sleep between them.</summary>
    private const string PausingScript =
        "import time\n" +
        "a = [str(i) * 10 for i in range(5000)]\n" +
        "time.sleep(0.3)\n" +
        "b = [bytes(100) for i in range(5000)]\n" +
        "del a\n";

    private readonly TempDir _dir = new("ptreplay-pace-");

    public void Dispose() => _dir.Dispose();

    private string RecordPausingProgram()
    {
        string trace = _dir.File("pause.trace");
        RecordedRun.RecordOrThrow([RealPrograms.Python, "-c", PausingScript], trace,
            CleanEnvironment.With(RealPrograms.PythonEnvironment()), null, timeout: TimeSpan.FromMinutes(1));
        return trace;
    }

    [Fact]
    public void Recorded_SleepsThroughTheRecordedPause_ModelIgnoresPace()
    {
        string trace = RecordPausingProgram();
        ReplayReport report;
        using (var reader = TraceReader.Open(trace))
        {
            report = ReplayRunner.Run(trace, reader.Header, reader.ReadAll(), ["glibc", "sim"], _dir.File("out"),
                new ReplayOptions { Pace = ReplayPace.Recorded, NoTiming = true }, new PreparationOptions(), keepIntermediates: true);
        }

        // The prepared trace holds the pause: some op comes at least 0.3 s after the op before it.
        long largestGap = 0;
        using (var file = new PreparedFile(report.Prepared.Path))
        {
            Assert.NotEqual(0UL, file.Header.TimesOffset);
            long previous = 0;
            foreach (var (_, index) in file.GlobalOrder())
            {
                long t = file.RecordedTime(index);
                Assert.True(t >= previous, "recorded times go back in the global order");
                largestGap = Math.Max(largestGap, t - previous);
                previous = t;
            }
        }

        Assert.True(largestGap >= PauseNs, $"largest recorded gap {largestGap} ns");

        EngineResult glibc = report.Results.Single(r => r.Engine == "glibc");
        Assert.True(glibc.Error is null, glibc.Error);
        Assert.True(glibc.Extra["pace_waits"] >= 1, "the replayer never slept");
        Assert.True(glibc.Extra["pace_recorded_wait_ns"] >= PauseNs,
            $"it slept for {glibc.Extra["pace_recorded_wait_ns"]} recorded ns, less than the pause");

        EngineResult sim = report.Results.Single(r => r.Engine == "sim");
        Assert.True(sim.Error is null, sim.Error);
        Assert.False(sim.Extra.ContainsKey("pace_waits"));
    }

    /// <summary>Frees 64 MiB of touched 32 KiB blocks, pauses 1.5 s, then makes small calls.</summary>
    private const string IdleAfterFreeSource = """
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        int main(void) {
            enum { N = 2000 };
            static void *b[N];
            for (int i = 0; i < N; i++) { b[i] = malloc(32768); memset(b[i], 1, 32768); }
            for (int i = 0; i < N; i++) free(b[i]);
            usleep(1500000);
            for (int r = 0; r < 2000; r++) { void *p = malloc(64 + (r % 50) * 8); free(p); }
            return 0;
        }
        """;

    /// <summary>
    /// mimalloc gives freed pages back to the kernel only once its purge delay has passed: replayed as fast as possible
    /// it still holds the freed 64 MiB at the end; at the recorded pace, the pause lets it return them, as in the program.
    /// </summary>
    [SkippableFact]
    public void Recorded_LetsMimallocReturnFreedMemoryDuringThePause_MaxDoesNot()
    {
        Requires.Package("libmimalloc2.0", "libmimalloc.so.2");
        string exe = Gcc.CompileSource(_dir.Path, "idle", IdleAfterFreeSource, Gcc.Flags("-O1 -fno-builtin"));
        string trace = _dir.File("idle.trace");
        RecordedRun.RecordOrThrow([exe], trace, CleanEnvironment.With());

        ulong FinalRss(ReplayPace pace)
        {
            using var reader = TraceReader.Open(trace);
            ReplayReport report = ReplayRunner.Run(trace, reader.Header, reader.ReadAll(), ["mimalloc"], _dir.NewFolder(pace.ToString()),
                new ReplayOptions { Pace = pace, NoTiming = true }, new PreparationOptions());
            EngineResult mimalloc = report.Results.Single();
            Assert.True(mimalloc.Error is null, mimalloc.Error);
            Assert.Equal(pace.ToString(), mimalloc.Pace);
            return mimalloc.FinalRssBytes;
        }

        const ulong Freed = 2000UL * 32768;
        ulong max = FinalRss(ReplayPace.Max);
        ulong recorded = FinalRss(ReplayPace.Recorded);
        Assert.True(max > Freed / 2, $"replayed as fast as possible mimalloc holds only {max} B of the {Freed} B freed");
        Assert.True(recorded + (Freed / 4) < max, $"at the recorded pace mimalloc still holds {recorded} B (as fast as possible: {max} B)");
    }

    [Fact]
    public void Max_PreparesNoTimesAndNeverSleeps()
    {
        string trace = RecordPausingProgram();
        ReplayReport report;
        using (var reader = TraceReader.Open(trace))
        {
            report = ReplayRunner.Run(trace, reader.Header, reader.ReadAll(), ["glibc"], _dir.File("max"),
                new ReplayOptions { NoTiming = true }, new PreparationOptions(), keepIntermediates: true);
        }

        using (var file = new PreparedFile(report.Prepared.Path))
        {
            Assert.Equal(0UL, file.Header.TimesOffset);
        }

        EngineResult glibc = report.Results.Single();
        Assert.True(glibc.Error is null, glibc.Error);
        Assert.False(glibc.Extra.ContainsKey("pace_waits"));
    }

    [Theory]
    [InlineData("max", 0.0, "max")]
    [InlineData("recorded", 1.0, "recorded")]
    [InlineData("2.5", 2.5, "2.5")]
    [InlineData("0.5", 0.5, "0.5")]
    public void Parse_AcceptsMaxRecordedAndFactors(string text, double factor, string shown)
    {
        Assert.Null(ReplayPace.TryParse(text, out ReplayPace pace));
        Assert.Equal(factor, pace.Factor);
        Assert.Equal(shown, pace.ToString());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("fast")]
    [InlineData("NaN")]
    [InlineData("")]
    public void Parse_RejectsOtherText(string text) => Assert.NotNull(ReplayPace.TryParse(text, out _));
}
