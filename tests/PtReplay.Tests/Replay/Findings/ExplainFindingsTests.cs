using System.Diagnostics;
using System.Globalization;
using PtReplay.Results.Findings;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Replay.Findings;

/// <summary>
/// `ptreplay explain` on a real program that frees eight 100,000-byte blocks below one live 2,000-byte block (too large
/// for tcache and fastbins, so its free coalesces): glibc cannot lower the break until that block is freed. The program
/// prints glibc's own mallinfo2 (arena = bytes obtained with sbrk, hblkhd = mmapped) while the block pins the heap and,
/// when asked, after freeing it: the golden figures come from glibc, run natively and under GLIBC_TUNABLES.
/// </summary>
public sealed class ExplainFindingsTests : IDisposable
{
    private const int Blocks = 8;
    private const int BlockBytes = 100_000;
    private const int PinBytes = 2000;

    internal const string PinnerSource = """
        #include <malloc.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>

        static void say(const char *what) {
            struct mallinfo2 mi = mallinfo2();
            char b[128];
            int n = snprintf(b, sizeof b, "%s %zu %zu\n", what, mi.arena, mi.hblkhd);
            if (write(1, b, (size_t)n) != n) exit(1);
        }

        int main(int argc, char **argv) {
            int keep = argc > 1 && strcmp(argv[1], "keep") == 0;
            static void *big[8];
            for (int i = 0; i < 8; i++) { big[i] = malloc(100000); memset(big[i], 1, 100000); }
            char *pin = malloc(2000);
            memset(pin, 2, 2000);
            for (int i = 0; i < 8; i++) free(big[i]);
            say("pinned");
            if (!keep) { free(pin); say("unpinned"); }
            else malloc_info(0, stderr); /* unbuffered: writing it allocates nothing */
            return 0;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-explain-");
    private readonly string _exe;

    public ExplainFindingsTests() => _exe = Gcc.CompileSource(_dir.Path, "pinner", PinnerSource, Gcc.Flags("-O1 -fno-builtin"));

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TheLiveBlockAboveTheFreedOnes_IsNamedWithItsAllocation_AndHoldsWhatGlibcGivesBackWhenItIsFreed()
    {
        string trace = _dir.File("keep.trace");
        RecordedRun.RecordOrThrow([_exe, "keep"], trace, CleanEnvironment.With());
        (ulong pinnedArena, ulong pinnedMmapped) = Figures(Native(null, "keep"), "pinned");
        string freeing = Native(null, "free");
        (ulong arenaBefore, _) = Figures(freeing, "pinned");
        (ulong arenaAfter, _) = Figures(freeing, "unpinned");
        ulong glibcGaveBack = arenaBefore - arenaAfter;

        // The pin as recorded: the malloc(2000) event and the address glibc returned.
        List<AllocEvent> events;
        using (var reader = TraceReader.Open(trace))
        {
            events = [.. reader.ReadAll()];
        }

        int pinEvent = events.FindIndex(e => e.Kind == EventKind.Malloc && e.Size == PinBytes);
        Assert.True(pinEvent >= 0);

        var run = CliRunner.Run("explain", trace, "--at", "end", "--json", "--no-suggestions");
        Assert.True(run.ExitCode == 0, run.Stderr);
        HeapFindingsFile f = HeapFindingsJson.Deserialize(run.Stdout);
        HeapMoment end = Assert.Single(f.Moments);
        Assert.Equal("end", end.At);
        Assert.Equal(pinnedArena + pinnedMmapped, end.CommittedBytes);

        HeapPin pin = end.Pins[0];
        Assert.Equal(events[pinEvent].Result, pin.Address);
        Assert.Equal(pinEvent, pin.AllocatedAtEvent);
        Assert.Equal(1, pin.Rank);                        // nothing live above it
        Assert.True(end.PinCount >= end.Pins.Count);
        Assert.True(pin.HostageBytes >= (ulong)(Blocks * BlockBytes), $"holds {pin.HostageBytes} B");
        // What glibc returned when the pin was freed: its hostage bytes, give or take the page-rounded trim of the top.
        Assert.InRange(glibcGaveBack, pin.HostageBytes - 4096, pin.HostageBytes + pin.ChunkBytes + end.TopBytes);
        Assert.Equal(pin.HostageBytes, pin.CumulativeHostageBytes);
        Assert.True(end.Pins.Sum(p => (double)p.HostageBytes) + end.PinnedBytesNotListed <= end.FreeBytes);
        Assert.Contains(end.FreeByKind, r => r.Bytes >= (ulong)(Blocks * BlockBytes));

        // Internal fragmentation per chunk size class: each block live at the end (from the recording) in a chunk of
        // glibc's size for its request (request + 8 bytes of header, rounded up to 16, at least 32).
        var live = new Dictionary<ulong, ulong>();
        foreach (AllocEvent e in events.Where(e => e.Kind.IsCall()))
        {
            if (e.Kind == EventKind.Free)
            {
                live.Remove(e.Ptr);
            }
            else if (e.Result != 0)
            {
                live.Remove(e.Ptr);
                live[e.Result] = e.RequestedBytes;
            }
        }

        foreach (var cls in live.Values.GroupBy(r => System.Numerics.BitOperations.Log2(Math.Max(32, (r + 8 + 15) & ~15UL))))
        {
            SizeClassFigures figures = end.SizeClasses.Single(c => c.MinChunkBytes == 1UL << cls.Key);
            Assert.Equal(cls.Count(), figures.LiveChunks);
            Assert.Equal(cls.Aggregate(0UL, (s, r) => s + r), figures.RequestedBytes);
            Assert.Equal(cls.Aggregate(0UL, (s, r) => s + Math.Max(32, (r + 8 + 15) & ~15UL)), figures.LiveChunkBytes);
        }

        // External: the freed region is one free chunk of its class.
        Assert.Contains(end.SizeClasses, c => c.FreeChunks >= 1 && c.FreeBytes >= (ulong)(Blocks * BlockBytes));
        Assert.Equal(end.FreeBytes, end.SizeClasses.Aggregate(0UL, (s, c) => s + c.FreeBytes));

        // The text names the same block.
        var text = CliRunner.Run("explain", trace, "--at", "end", "--no-suggestions");
        Assert.Equal(0, text.ExitCode);
        Assert.Contains($"0x{pin.Address:x}", text.Stdout, StringComparison.Ordinal);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"allocated at event {pinEvent:N0}"), text.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ASuggestedTunable_PredictsTheFootprintGlibcHasWithIt()
    {
        string trace = _dir.File("keep.trace");
        RecordedRun.RecordOrThrow([_exe, "keep"], trace, CleanEnvironment.With());
        var run = CliRunner.Run("explain", trace, "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        HeapFindingsFile f = HeapFindingsJson.Deserialize(run.Stdout);
        Assert.Equal(["peak", "end"], f.Moments.Select(m => m.At));

        // The baseline is glibc's own figure at the end (the program exits with the pin live).
        (ulong arena, ulong mmapped) = Figures(Native(null, "keep"), "pinned");
        Assert.Equal(arena + mmapped, f.Baseline.EndCommittedBytes);

        // A fixed mmap threshold below the blocks' size serves them with mmaps of their own: their free gives the memory
        // back, nothing is pinned. Every suggestion is checked against glibc run with it.
        TunableSuggestion mmap = Assert.Single(f.Suggestions, s => s.Tunable == "glibc.malloc.mmap_threshold=65536");
        Assert.True(mmap.Predicted.EndCommittedBytes < f.Baseline.EndCommittedBytes);
        foreach (TunableSuggestion s in f.Suggestions)
        {
            (ulong a, ulong m) = Figures(Native(s.Tunable, "keep"), "pinned");
            Assert.True(a + m == s.Predicted.EndCommittedBytes, $"{s.Tunable}: glibc {a + m} B, the model predicted {s.Predicted.EndCommittedBytes} B");
        }

        // A threshold above the blocks' size changes nothing: tried, not suggested.
        Assert.Contains(f.Rejected, s => s.Tunable == "glibc.malloc.mmap_threshold=131072");
    }

    [Fact]
    public void ReplayExplain_WritesFindings_AndTheReportShowsThePinAtTheTopOfTheWorkload()
    {
        string trace = _dir.File("keep.trace");
        RecordedRun.RecordOrThrow([_exe, "keep"], trace, CleanEnvironment.With());
        ulong pinAddress;
        using (var reader = TraceReader.Open(trace))
        {
            pinAddress = reader.ReadAll().First(e => e.Kind == EventKind.Malloc && e.Size == PinBytes).Result;
        }

        string outDir = _dir.File("replay-pinner");
        var replay = CliRunner.Run("replay", trace, "--engine", "sim", "--explain", "--out", outDir);
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        string findingsPath = Path.Combine(outDir, HeapFindingsJson.FileName);
        Assert.True(File.Exists(findingsPath));
        HeapFindingsFile f = HeapFindingsJson.Deserialize(File.ReadAllText(findingsPath));
        Assert.Equal(pinAddress, f.Moments.Single(m => m.At == "end").Pins[0].Address);

        string html = _dir.File("report.html");
        var report = CliRunner.Run("report", Path.Combine(outDir, "summary.json"), "-o", html);
        Assert.True(report.ExitCode == 0, report.Stderr);
        string text = File.ReadAllText(html);
        int findings = text.IndexOf("Findings (the model", StringComparison.Ordinal);
        Assert.True(findings > 0, "no findings section");
        Assert.True(findings < text.IndexOf("<h3>Summary</h3>", StringComparison.Ordinal), "the findings are not at the top of the workload");
        Assert.Contains($"0x{pinAddress:x}", text, StringComparison.Ordinal);
        Assert.Contains("glibc.malloc.mmap_threshold=65536", text, StringComparison.Ordinal);

        // Without --explain: no findings file, no section.
        string plain = _dir.File("replay-plain");
        Assert.Equal(0, CliRunner.Run("replay", trace, "--engine", "sim", "--out", plain).ExitCode);
        Assert.False(File.Exists(Path.Combine(plain, HeapFindingsJson.FileName)));
    }

    /// <summary>
    /// glibc's malloc_info at the program's end (it lists the free chunks of each bin and the fastbins' total; tcache
    /// chunks count as in use there) against the model's free bytes by bin kind at the end of the replay. glibc adds a
    /// chunk's raw size field, flag bits included, so its totals may exceed the chunk sizes by up to 7 bytes a chunk.
    /// </summary>
    [Fact]
    public void FreeBytesByBin_AreGlibcsOwnMallocInfo()
    {
        string trace = _dir.File("keep.trace");
        RecordingResult recorded = RecordedRun.RecordOrThrow([_exe, "keep"], trace, CleanEnvironment.With());
        var info = System.Xml.Linq.XDocument.Parse(System.Text.Encoding.UTF8.GetString(recorded.StandardError));
        var heap = info.Root!.Elements("heap").Single(h => (string?)h.Attribute("nr") == "0");
        (long Count, ulong Bytes) Glibc(IEnumerable<System.Xml.Linq.XElement> entries) =>
            (entries.Sum(e => long.Parse((string)e.Attribute("count")!, CultureInfo.InvariantCulture)),
             entries.Aggregate(0UL, (s, e) => s + ulong.Parse((string)(e.Attribute("total") ?? e.Attribute("size"))!, CultureInfo.InvariantCulture)));
        var sizes = heap.Element("sizes")!;
        (long unsortedCount, ulong unsortedBytes) = Glibc(sizes.Elements("unsorted"));
        (long binnedCount, ulong binnedBytes) = Glibc(sizes.Elements("size"));
        (long fastCount, ulong fastBytes) = Glibc(heap.Elements("total").Where(t => (string?)t.Attribute("type") == "fast"));

        var run = CliRunner.Run("explain", trace, "--at", "end", "--json", "--no-suggestions");
        Assert.True(run.ExitCode == 0, run.Stderr);
        HeapMoment end = Assert.Single(HeapFindingsJson.Deserialize(run.Stdout).Moments);
        (long Count, ulong Bytes) Model(params string[] kinds) =>
            (end.FreeByKind.Where(r => kinds.Contains(r.Kind)).Sum(r => r.Count), end.FreeByKind.Where(r => kinds.Contains(r.Kind)).Aggregate(0UL, (s, r) => s + r.Bytes));
        (long mu, ulong mub) = Model("unsorted");
        (long mb, ulong mbb) = Model("small_bin", "large_bin");
        (long mf, ulong mfb) = Model("fastbin");
        Assert.True(unsortedCount >= 1, "the freed region is not in glibc's unsorted bin");
        Assert.Equal((unsortedCount, binnedCount, fastCount), (mu, mb, mf));
        Assert.InRange(unsortedBytes, mub, mub + (7UL * (ulong)mu));
        Assert.InRange(binnedBytes, mbb, mbb + (7UL * (ulong)mb));
        Assert.InRange(fastBytes, mfb, mfb + (7UL * (ulong)mf));
    }

    [Fact]
    public void BadArguments_AreUsageErrors()
    {
        string trace = _dir.File("keep.trace");
        RecordedRun.RecordOrThrow([_exe, "keep"], trace, CleanEnvironment.With());
        var badAt = CliRunner.Run("explain", trace, "--at", "soon");
        Assert.Equal(2, badAt.ExitCode);
        Assert.Contains("--at soon", badAt.Stderr, StringComparison.Ordinal);
        var beyond = CliRunner.Run("explain", trace, "--at", "999999");
        Assert.Equal(2, beyond.ExitCode);
        Assert.Contains("ops", beyond.Stderr, StringComparison.Ordinal);
        var missing = CliRunner.Run("explain", _dir.File("none.trace"));
        Assert.Equal(3, missing.ExitCode);
    }

    /// <summary>Runs the program without the recorder (GLIBC_TUNABLES as given) and returns its output.</summary>
    private string Native(string? tunables, string mode)
    {
        var psi = new ProcessStartInfo(_exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(mode);
        psi.Environment.Remove("GLIBC_TUNABLES");
        psi.Environment.Remove("LD_PRELOAD");
        if (tunables is not null)
        {
            psi.Environment["GLIBC_TUNABLES"] = tunables;
        }

        using Process p = Process.Start(psi)!;
        Task<string> mallocInfo = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        _ = mallocInfo.Result;
        Assert.Equal(0, p.ExitCode);
        return output;
    }

    private static (ulong Arena, ulong Mmapped) Figures(string output, string label)
    {
        string line = output.Split('\n').Single(l => l.StartsWith(label + " ", StringComparison.Ordinal));
        string[] f = line.Split(' ');
        return (ulong.Parse(f[1], CultureInfo.InvariantCulture), ulong.Parse(f[2], CultureInfo.InvariantCulture));
    }
}
