using System.Globalization;
using PtReplay.Results.Findings;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay.Findings;

/// <summary>
/// Allocation sites in the findings: a program built with -g makes eight 100,000-byte blocks in one function, then one
/// long-lived 2,000-byte block late in keep_late_block, and frees the eight: the late block pins the freed region until
/// exit. Recorded with `record --stacks`, the findings must name keep_late_block as the pin's site, with its size and the
/// source line of its malloc call (found in the source), and `info --sites` must rank the sites by the program's own
/// requests.
/// </summary>
public sealed class PinSiteTests : IDisposable
{
    private const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>

        static void *big[8];

        __attribute__((noinline)) void make_big_blocks(void) {
            for (int i = 0; i < 8; i++) { big[i] = malloc(100000); memset(big[i], 1, 100000); }
        }

        __attribute__((noinline)) void *keep_late_block(size_t n) {
            void *p = malloc(n); /* the pin's call */
            memset(p, 2, n);
            return p;
        }

        int main(void) {
            printf("start\n"); /* stdout's buffer is allocated now, below the big blocks */
            make_big_blocks();
            void *pin = keep_late_block(2000);
            for (int i = 0; i < 8; i++) free(big[i]);
            printf("pin %p\n", pin);
            return 0; /* the pin stays live until exit */
        }
        """;

    private readonly TempDir _dir = new("ptreplay-pinsite-");
    private readonly string _trace;
    private readonly int _pinEvent;

    public PinSiteTests()
    {
        string exe = Gcc.CompileSource(_dir.Path, "pinlate", Source, Gcc.Flags("-g -O1 -fno-builtin"));
        _trace = _dir.File("stacks.trace");
        var record = CliRunner.Run("record", "--stacks", "-o", _trace, "--", exe);
        Assert.True(record.ExitCode == 0, record.Stderr);
        using var reader = TraceReader.Open(_trace);
        _pinEvent = reader.ReadAll().ToList().FindIndex(e => e.Kind == EventKind.Malloc && e.Size == 2000);
    }

    public void Dispose() => _dir.Dispose();

    [SkippableFact]
    public void ThePin_IsNamedWithItsFunctionSizeAndSourceFile_InJsonTextAndReport()
    {
        Requires.Package("libdw1", "libdw.so.1"); // the source line comes from elfutils' libdw
        var run = CliRunner.Run("explain", _trace, "--at", "end", "--json", "--no-suggestions");
        Assert.True(run.ExitCode == 0, run.Stderr);
        HeapFindingsFile f = HeapFindingsJson.Deserialize(run.Stdout);
        Assert.True(f.StacksRecorded);
        HeapPin pin = f.Moments.Single().Pins[0];
        Assert.Equal(_pinEvent, pin.AllocatedAtEvent);
        Assert.Equal(2016UL, pin.ChunkBytes);            // glibc's chunk for 2,000 bytes: + 8 header bytes, rounded to 16
        Assert.True(pin.HostageBytes >= 8 * 100000UL);
        AllocationSite site = Assert.IsType<AllocationSite>(pin.Site);
        Assert.Equal("keep_late_block", site.Function);
        Assert.EndsWith("pinlate.c", site.File, StringComparison.Ordinal);
        Assert.Equal(Source.Split('\n').ToList().FindIndex(l => l.Contains("/* the pin's call */", StringComparison.Ordinal)) + 1, site.Line);
        Assert.Contains("main", site.Stack.Select(s => s.Function));

        var text = CliRunner.Run("explain", _trace, "--at", "end", "--no-suggestions");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"0x{pin.Address:x}, 2,016 B chunk"), text.Stdout, StringComparison.Ordinal);
        Assert.Contains("allocated in keep_late_block (pinlate.c:", text.Stdout, StringComparison.Ordinal);

        string outDir = _dir.File("replay");
        var replay = CliRunner.Run("replay", _trace, "--engine", "sim", "--explain", "--out", outDir);
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        string html = _dir.File("report.html");
        Assert.Equal(0, CliRunner.Run("report", Path.Combine(outDir, "summary.json"), "-o", html).ExitCode);
        string report = File.ReadAllText(html);
        Assert.Contains("allocated in <code>keep_late_block (pinlate.c:", report, StringComparison.Ordinal);
        Assert.Contains("Top allocation sites", report, StringComparison.Ordinal);
    }

    [Fact]
    public void InfoSites_RanksTheSitesByTheProgramsOwnRequests()
    {
        var run = CliRunner.Run("info", _trace, "--sites", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        SiteListFile sites = HeapFindingsJson.DeserializeSites(run.Stdout);
        Assert.Equal(["peak", "end"], sites.Moments);
        SiteFigures late = sites.Sites.Single(s => s.Site.Function == "keep_late_block");
        SiteFigures early = sites.Sites.Single(s => s.Site.Function == "make_big_blocks");
        Assert.Equal((1L, 2000UL), (late.Calls, late.RequestedBytes));
        Assert.Equal((8L, 800000UL), (early.Calls, early.RequestedBytes));
        // Live requested bytes peak when the late block joins the eight: 802,000 bytes.
        Assert.Equal((2000UL, 800000UL), (late.PeakLiveBytes, early.PeakLiveBytes));
        Assert.Equal((2000UL, 0UL), (late.EndLiveBytes, early.EndLiveBytes));
        Assert.True(late.PinnedBytes[1] >= 8 * 100000UL, $"pins {late.PinnedBytes[1]} B at the end");
        Assert.Equal(0UL, early.MostPinnedBytes());

        var text = CliRunner.Run("info", _trace, "--sites", "--top", "3");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains("by free bytes pinned", text.Stdout, StringComparison.Ordinal);
        Assert.Contains("keep_late_block (pinlate.c:", text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void InfoSites_OnATraceWithoutStacks_SaysHowToRecordThem()
    {
        string plain = _dir.File("plain.trace");
        RecordedRun.RecordOrThrow(["/bin/true"], plain, CleanEnvironment.With());
        var run = CliRunner.Run("info", plain, "--sites");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("recorded without --stacks; record with `ptreplay record --stacks -- ...`", run.Stdout, StringComparison.Ordinal);
    }

}
