using System.Globalization;
using System.Text;
using PtReplay.Results.Findings;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;
using PtReplay.Traces.Stacks;

namespace PtReplay.Tests.Replay.Findings;

/// <summary>
/// Allocation sites in the findings: a program built with -g makes eight 100,000-byte blocks in one function, then one
/// long-lived 2,000-byte block late in keep_late_block, and frees the eight: the late block pins the freed region until
/// exit. The recording (real events) gets the call stacks of its allocations from the program's own run-time addresses
/// and /proc/self/maps (printed by the program under the recorder), written with the trace format's stack records; the
/// findings must name keep_late_block as the pin's site, with its size and source file, and `info --sites` must rank the
/// sites by the program's own requests.
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
            void *p = malloc(n);
            memset(p, 2, n);
            return p;
        }

        int main(void) {
            printf("start\n"); /* stdout's buffer is allocated now, below the big blocks */
            make_big_blocks();
            void *pin = keep_late_block(2000);
            for (int i = 0; i < 8; i++) free(big[i]);
            printf("fn keep_late_block %p\nfn make_big_blocks %p\nfn main %p\nmalloc %p\npin %p\n",
                   (void *)&keep_late_block, (void *)&make_big_blocks, (void *)&main, (void *)&malloc, pin);
            FILE *maps = fopen("/proc/self/maps", "r");
            char line[4096];
            while (fgets(line, sizeof line, maps))
                if (strstr(line, " r-xp ") && strchr(line, '/')) printf("map %s", line);
            fclose(maps);
            return 0; /* the pin stays live until exit */
        }
        """;

    private readonly TempDir _dir = new("ptreplay-pinsite-");
    private readonly string _trace;
    private readonly ulong _pin;

    public PinSiteTests()
    {
        string exe = Gcc.CompileSource(_dir.Path, "pinlate", Source, Gcc.Flags("-g -O1 -fno-builtin"));
        string recorded = _dir.File("recorded.trace");
        var run = RecordedRun.RecordOrThrow([exe], recorded, CleanEnvironment.With());
        var fn = new Dictionary<string, ulong>();
        var table = new StackTable();
        foreach (string line in Encoding.UTF8.GetString(run.StandardOutput).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 2)
            {
                continue;
            }

            if (f[0] == "map")
            {
                string[] range = f[1].Split('-');
                table.AddModule(new ModuleMapping(Hex(range[0]), Hex(range[1]), Hex(f[3]), f[6], null));
            }
            else
            {
                fn[f[0] == "fn" ? f[1] : f[0]] = Hex(f[^1]);
            }
        }

        _pin = fn["pin"];
        // Return addresses a few bytes into each function, innermost first, as an unwinder delivers them; libc's malloc
        // innermost (the allocator's plumbing, which the site skips).
        int late = table.Add([fn["malloc"] + 16, fn["keep_late_block"] + 8, fn["main"] + 8]);
        int early = table.Add([fn["malloc"] + 16, fn["make_big_blocks"] + 8, fn["main"] + 8]);
        using var reader = TraceReader.Open(recorded);
        _trace = _dir.File("stacks.trace");
        using var stream = File.Create(_trace);
        using var writer = new TraceWriter(stream, reader.Header);
        writer.WriteStacks(table);
        foreach (AllocEvent e in reader.ReadAll())
        {
            AllocEvent withStack = e;
            if (e.Kind == EventKind.Malloc && e.Size == 2000 && e.Result == _pin)
            {
                withStack.Stack = late;
            }
            else if (e.Kind == EventKind.Malloc && e.Size == 100000)
            {
                withStack.Stack = early;
            }

            writer.Write(withStack, reader.ThreadTids[e.Thread]);
        }

        writer.Complete();
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ThePin_IsNamedWithItsFunctionSizeAndSourceFile_InJsonTextAndReport()
    {
        var run = CliRunner.Run("explain", _trace, "--at", "end", "--json", "--no-suggestions");
        Assert.True(run.ExitCode == 0, run.Stderr);
        HeapFindingsFile f = HeapFindingsJson.Deserialize(run.Stdout);
        Assert.True(f.StacksRecorded);
        HeapPin pin = f.Moments.Single().Pins[0];
        Assert.Equal(_pin, pin.Address);
        Assert.Equal(2016UL, pin.ChunkBytes);            // glibc's chunk for 2,000 bytes: + 8 header bytes, rounded to 16
        Assert.True(pin.HostageBytes >= 8 * 100000UL);
        AllocationSite site = Assert.IsType<AllocationSite>(pin.Site);
        Assert.Equal("keep_late_block", site.Function);
        Assert.EndsWith("pinlate.c", site.File, StringComparison.Ordinal);
        Assert.True(site.Line > 0);
        Assert.Equal(["malloc", "keep_late_block", "main"], site.Stack.Select(s => s.Function));

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

    private static ulong Hex(string text) =>
        ulong.Parse(text.StartsWith("0x", StringComparison.Ordinal) ? text[2..] : text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
}
