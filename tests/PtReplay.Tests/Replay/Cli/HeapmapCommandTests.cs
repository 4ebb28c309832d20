using System.Globalization;
using System.Text;
using System.Xml.Linq;
using PtReplay.Allocator.Diagnostics;
using PtReplay.Replay;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Reports.Plots;
using PtReplay.Results.HeapMaps;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;

namespace PtReplay.Tests.Replay.Cli;

/// <summary>
/// `ptreplay heapmap`: a real program frees a large region below one late long-lived block and reports glibc's own
/// mallinfo2 at that moment (its last allocator call); the map at the end must show the freed bytes in the bins, the live
/// block above them, and the main arena's free and in-use bytes equal to glibc's.
/// </summary>
public sealed class HeapmapCommandTests : IDisposable
{
    private const int Blocks = 400;
    private const int BlockBytes = 2000;

    /// <summary>400 blocks of 2000 B (too large for tcache and fastbins), one late 4000 B block, the 400 freed; then mallinfo2.</summary>
    private const string FreeBelowLiveSource = """
        #include <malloc.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        int main(void) {
            enum { N = 400, SIZE = 2000 };
            static void *b[N];
            for (int i = 0; i < N; i++) { b[i] = malloc(SIZE); memset(b[i], 1, SIZE); }
            void *late = malloc(4000);
            memset(late, 2, 4000);
            for (int i = 0; i < N; i++) free(b[i]);
            struct mallinfo2 mi = mallinfo2();
            char line[128];
            int n = snprintf(line, sizeof line, "%zu %zu %zu %p\n", mi.arena, mi.uordblks, mi.fordblks, late);
            if (write(1, line, n) != n) return 1;
            return 0;
        }
        """;

    private readonly TempDir _dir = new("ptreplay-heapmap-");

    public void Dispose() => _dir.Dispose();

    private (string Trace, ulong Arena, ulong Uord, ulong Ford, ulong Late) Record()
    {
        string exe = Gcc.CompileSource(_dir.Path, "freebelow", FreeBelowLiveSource, Gcc.Flags("-O1 -fno-builtin"));
        string trace = _dir.File("freebelow.trace");
        var run = RecordedRun.RecordOrThrow([exe], trace, CleanEnvironment.With());
        string[] f = Encoding.UTF8.GetString(run.StandardOutput).Trim().Split(' ');
        var inv = CultureInfo.InvariantCulture;
        return (trace, ulong.Parse(f[0], inv), ulong.Parse(f[1], inv), ulong.Parse(f[2], inv),
            ulong.Parse(f[3].AsSpan(2), NumberStyles.HexNumber, inv));
    }

    [Fact]
    public void End_ShowsTheFreedRegionInTheBins_AndAgreesWithGlibcsMallinfo2()
    {
        var (trace, arena, uord, ford, _) = Record();
        string json = _dir.File("end.json");
        var run = CliRunner.Run("heapmap", trace, "--at", "end", "-o", json, "--json", "--trim");
        Assert.True(run.ExitCode == 0, run.Stderr);
        HeapMapFile map = HeapMapJson.Deserialize(run.Stdout);
        Assert.Equal(HeapMapJson.Serialize(map), HeapMapJson.Serialize(HeapMapJson.Deserialize(File.ReadAllText(json))));
        Assert.Equal(map.TotalOps, map.Ops);

        HeapMapArena main = map.Arenas[0];
        HeapMapStateBytes b = main.Bytes;
        // The 400 freed blocks coalesced: at least their bytes are free in the regular bins, as one chunk.
        ulong binned = b.Unsorted + b.SmallBin + b.LargeBin;
        Assert.True(binned >= (ulong)(Blocks * BlockBytes), $"only {binned} B in the bins");
        Assert.True(main.LargestFreeChunk >= (ulong)(Blocks * BlockBytes), $"largest free chunk {main.LargestFreeChunk} B");
        Assert.Contains(main.BinKinds, r => r.Kind is "unsorted" or "large_bin" && r.Bytes >= (ulong)(Blocks * BlockBytes));

        // glibc's own view at the same moment (golden data from the real allocator).
        Assert.Equal(arena, main.ExtentBytes);
        Assert.Equal(ford, b.Unsorted + b.SmallBin + b.LargeBin + b.Fastbin + b.Top);
        Assert.Equal(uord, b.InUse + b.Tcache);

        // malloc_trim(0) releases the whole pages inside the freed region (madvise), which the program had touched.
        Assert.NotNull(map.Trim);
        const ulong Page = 4096;
        ulong wholePages = ((main.LargestFreeChunk / Page) - 1) * Page;
        Assert.True(map.Trim.ResidentBytes >= wholePages, $"trim gives back {map.Trim.ResidentBytes} B resident, the freed region holds {wholePages} B of whole pages");

        // Every heap's bytes by state add up to its extent.
        foreach (HeapMapHeap h in main.Heaps)
        {
            HeapMapStateBytes s = h.Bytes;
            Assert.Equal(h.End - h.Start, s.InUse + s.Tcache + s.Fastbin + s.Unsorted + s.SmallBin + s.LargeBin + s.Top + s.Fencepost);
        }
    }

    [Fact]
    public void Walker_PlacesTheLateBlockAboveTheFreedRegion()
    {
        var (trace, _, _, _, late) = Record();
        using var work = new TempDir("ptreplay-heapmap-walk-");
        var options = new ReplayOptions();
        PreparedInput input = ReplayRunner.PrepareFile(trace, work.File("t.prepared"), options, new PreparationOptions());
        var (prepared, header) = (input.Prepared, input.ModelHeader);
        var (model, _, _) = SimSnapshot.Run(prepared, header, options, null, new SimStop(SimStopKind.End));
        HeapRegion brk = model.WalkHeap().Regions.Single(r => r.Kind == "brk");

        Assert.Equal(brk.Extent, brk.Chunks.Aggregate(0UL, (s, c) => s + c.Size));
        HeapChunk lateChunk = brk.Chunks.Single(c => c.Address + 16 == late);
        Assert.Equal(ChunkState.InUse, lateChunk.State);
        HeapChunk freed = brk.Chunks.MaxBy(c => c.State is ChunkState.Unsorted or ChunkState.LargeBin ? c.Size : 0);
        Assert.True(freed.Size >= (ulong)(Blocks * BlockBytes), $"largest binned chunk {freed.Size} B");
        Assert.True(freed.Address + freed.Size == lateChunk.Address, "the freed region does not end at the late block");
        Assert.Equal(ChunkState.Top, brk.Chunks[^1].State);
    }

    /// <summary>A thread fills its arena with 3000 B blocks and frees every other one; main then mallocs 1 MiB (mmapped) and prints mallinfo2.</summary>
    private const string ThreadArenaSource = """
        #include <malloc.h>
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        static void *worker(void *arg) {
            enum { N = 300 };
            static void *p[N];
            for (int i = 0; i < N; i++) { p[i] = malloc(3000); memset(p[i], 3, 3000); }
            for (int i = 0; i < N; i += 2) free(p[i]);
            return arg;
        }
        int main(void) {
            pthread_t t;
            if (pthread_create(&t, NULL, worker, NULL) != 0) return 1;
            pthread_join(t, NULL);
            void *big = malloc(1 << 20);
            memset(big, 4, 4096);
            struct mallinfo2 mi = mallinfo2();
            char line[160];
            int n = snprintf(line, sizeof line, "%zu %zu %zu %zu %zu %p\n", mi.arena, mi.uordblks, mi.fordblks, mi.hblks, mi.hblkhd, big);
            if (write(1, line, n) != n) return 1;
            return 0;
        }
        """;

    [Fact]
    public void ThreadArenaAndMmappedChunk_AgreeWithGlibcsMallinfo2()
    {
        string exe = Gcc.CompileSource(_dir.Path, "threadarena", ThreadArenaSource, Gcc.Flags("-O1 -fno-builtin -pthread"));
        string trace = _dir.File("threadarena.trace");
        var recorded = RecordedRun.RecordOrThrow([exe], trace, CleanEnvironment.With());
        var inv = CultureInfo.InvariantCulture;
        ulong[] g = [.. Encoding.UTF8.GetString(recorded.StandardOutput).Trim().Split(' ').Take(5).Select(v => ulong.Parse(v, inv))];

        var run = CliRunner.Run("heapmap", trace, "--at", "end", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        HeapMapFile map = HeapMapJson.Deserialize(run.Stdout);
        Assert.True(map.Arenas.Count >= 2, "no thread arena");
        HeapMapArena thread = map.Arenas[1];
        Assert.All(thread.Heaps, h => Assert.Equal("heap", h.Kind));
        Assert.True(thread.Bytes.Unsorted + thread.Bytes.SmallBin + thread.Bytes.LargeBin >= 150UL * 3000, "the freed blocks are not in the thread arena's bins");

        // Arena bytes glibc counts: the walked extents plus each thread heap's header (and its arena's malloc_state).
        const ulong HeapMax = 64UL * 1024 * 1024;
        ulong headers = map.Arenas.SelectMany(a => a.Heaps).Where(h => h.Kind == "heap").Aggregate(0UL, (s, h) => s + (h.Start - (h.Start & ~(HeapMax - 1))));
        ulong extent = map.Arenas.Aggregate(0UL, (s, a) => s + a.ExtentBytes);
        ulong free = map.Arenas.Aggregate(0UL, (s, a) => s + a.Bytes.Unsorted + a.Bytes.SmallBin + a.Bytes.LargeBin + a.Bytes.Fastbin + a.Bytes.Top);
        ulong used = map.Arenas.Aggregate(0UL, (s, a) => s + a.Bytes.InUse + a.Bytes.Tcache + a.Bytes.Fencepost);
        Assert.Equal(g[0], extent + headers);
        Assert.Equal(g[1], used + headers);
        Assert.Equal(g[2], free);
        Assert.Equal((long)g[3], map.Mmapped.Count);
        Assert.Equal(g[4], map.Mmapped.Bytes);

        // The walker finds the mmapped chunk (the model places mappings at its own mmap base: sizes compare, not addresses).
        using var work = new TempDir("ptreplay-heapmap-walk-");
        var options = new ReplayOptions();
        PreparedInput input = ReplayRunner.PrepareFile(trace, work.File("t.prepared"), options, new PreparationOptions());
        var (prepared, header) = (input.Prepared, input.ModelHeader);
        var (model, _, _) = SimSnapshot.Run(prepared, header, options, null, new SimStop(SimStopKind.End));
        HeapRegion mmapped = model.WalkHeap().Regions.Single(r => r.Kind == "mmap");
        Assert.Equal(g[4], mmapped.Extent);
        Assert.Equal(ChunkState.Mmapped, mmapped.Chunks.Single().State);
    }

    [Fact]
    public void AtOutOfRange_ExitsWithUsage()
    {
        var (trace, _, _, _, _) = Record();
        var run = CliRunner.Run("heapmap", trace, "--at", "99999999", "-o", _dir.File("x.json"));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("ops", run.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("x.json")));
        Assert.Equal(2, CliRunner.Run("heapmap", trace, "--at", "soon").ExitCode);
        Assert.Equal(2, CliRunner.Run("heapmap", trace, "--at", "-1").ExitCode);
        Assert.Equal(2, CliRunner.Run("heapmap", trace, "-o", _dir.File("map.txt")).ExitCode);
        Assert.Equal(3, CliRunner.Run("heapmap", _dir.File("missing.trace")).ExitCode);
        Assert.Equal(0, CliRunner.Run("heapmap", trace, "--at", "0").ExitCode);
    }

    [Fact]
    public void Svg_HasOneColouredRegionPerHeapAndState_AndPngIsWritten()
    {
        var (trace, _, _, _, _) = Record();
        string svg = _dir.File("m.svg"), png = _dir.File("m.png"), json = _dir.File("m.json");
        var run = CliRunner.Run("heapmap", trace, "--at", "peak", "-o", svg, "-o", png, "-o", json);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("arena 0", run.Stdout, StringComparison.Ordinal);

        HeapMapFile map = HeapMapJson.Deserialize(File.ReadAllText(json));
        XDocument doc = XDocument.Parse(File.ReadAllText(svg));
        foreach (var (state, colour) in HeapMapPlot.StateColors)
        {
            int s = map.States.ToList().IndexOf(state);
            int expected = map.Arenas.SelectMany(a => a.Heaps).Count(h => h.Buckets.Bytes[s].Any(v => v != 0));
            int drawn = doc.Descendants().Count(e => e.Name.LocalName == "path" &&
                ((string?)e.Attribute("fill") ?? "").Equals(colour, StringComparison.OrdinalIgnoreCase));
            Assert.True(expected == drawn, $"{state}: {drawn} filled regions, {expected} heaps hold it");
        }

        Assert.True(map.Arenas[0].Bytes.InUse > 0);
        byte[] head = File.ReadAllBytes(png).AsSpan(0, 8).ToArray();
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, head);
        Assert.True(new FileInfo(png).Length > 5000);
    }
}
