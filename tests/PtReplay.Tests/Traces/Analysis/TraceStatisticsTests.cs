using System.Globalization;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;
using PtReplay.Traces.Import;

namespace PtReplay.Tests.Traces.Analysis;

public class TraceStatisticsTests
{
    /// <summary>
    /// A C program keeps its own books of live requested bytes (the definition in TraceStatistics' doc) while
    /// it mallocs, callocs, reallocs (growing, shrinking, realloc(p, 0), failing) and frees; glibc's mtrace
    /// records the same run. The statistics of the imported trace must match the program's books.
    /// </summary>
    private const string Books = """
        #include <mcheck.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>

        static uint64_t state = 88172645463325252ULL;
        static uint64_t next(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; }

        int main(void)
        {
            void *slot[64] = {0};
            size_t size[64] = {0};
            size_t live = 0, peak = 0, failed = 0, allocs = 0, frees = 0, reallocs = 0;
            void *before = malloc(100);            /* allocated before tracing: its free is unknown to the trace */
            mtrace();
            free(before);
            for (int i = 0; i < 4000; i++) {
                uint64_t r = next();
                int s = r % 64, op = (r >> 8) % 10;
                size_t n = 1 + (r >> 16) % 5000;
                if (slot[s] == NULL) {
                    if (op < 7) { slot[s] = malloc(n); size[s] = n; }
                    else { size_t c = 1 + op; slot[s] = calloc(c, n); size[s] = c * n; }
                    if (slot[s] == NULL) return 4;
                    live += size[s]; allocs++;
                } else if (op < 5) {
                    free(slot[s]); live -= size[s]; slot[s] = NULL; frees++;
                } else if (op < 8) {
                    void *p = realloc(slot[s], n);
                    if (p == NULL) return 5;
                    live = live - size[s] + n; slot[s] = p; size[s] = n; reallocs++;
                } else if (op == 8) {
                    void *p = realloc(slot[s], 0);   /* frees, returns NULL */
                    if (p != NULL) return 6;
                    live -= size[s]; slot[s] = NULL; frees++;
                } else {
                    void *p = realloc(slot[s], SIZE_MAX / 4);   /* fails, keeps the block */
                    if (p != NULL) return 7;
                    failed++; reallocs++;
                }
                if (live > peak) peak = live;
            }
            muntrace();
            char out[256];
            int len = snprintf(out, sizeof out, "%zu %zu %zu %zu %zu %zu\n", peak, live, failed, allocs, frees, reallocs);
            write(1, out, len);
            return 0;
        }
        """;

    [Fact]
    public void RealProgram_PeakAndFinalLiveBytes_MatchTheProgramsOwnBooks()
    {
        using NativeProgram program = NativeProgram.Compile("live-books", Books);
        string mtrace = Path.Combine(program.Directory, "books.mtrace");
        (int code, string stdout, string stderr) = program.Run(new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = "libc_malloc_debug.so.0",
            ["MALLOC_TRACE"] = mtrace,
        });
        Assert.True(code == 0, $"program exited {code}: {stderr}");
        ulong[] books = [.. stdout.Trim().Split(' ').Select(v => ulong.Parse(v, CultureInfo.InvariantCulture))];
        string trace = Path.Combine(program.Directory, "books.trace");
        MtraceImporter.Import(mtrace, trace);

        TraceStatistics stats = TraceStatistics.Compute(trace);

        Assert.Equal(books[0], stats.PeakLiveBytes);
        Assert.Equal(books[1], stats.LiveBytes);
        Assert.Equal((long)books[2], stats.FailedCalls);
        Assert.Equal((long)books[3], stats.Count(EventKind.Malloc));           // mtrace prints calloc as "+"
        Assert.Equal((long)books[4] + 1, stats.Count(EventKind.Free));         // + the free of `before`
        Assert.Equal((long)books[5], stats.Count(EventKind.Realloc));
        Assert.Equal(1, stats.AnomalyCount(TraceAnomalyKind.FreeOfUnknownPointer));
        Assert.Equal(0, stats.AnomalyCount(TraceAnomalyKind.DoubleFree));
        Assert.Equal(0, stats.AnomalyCount(TraceAnomalyKind.ReallocOfUnknownPointer));
        Assert.Equal(stats.Events, stats.SizeHistogram.Sum() + stats.Count(EventKind.Free));
    }

    private static AllocEvent Malloc(ulong size, ulong result) => new() { Kind = EventKind.Malloc, Size = size, Count = 1, Result = result };

    private static AllocEvent Free(ulong ptr) => new() { Kind = EventKind.Free, Ptr = ptr };

    private static AllocEvent Realloc(ulong ptr, ulong size, ulong result) => new() { Kind = EventKind.Realloc, Ptr = ptr, Size = size, Count = 1, Result = result };

    [Trait("Category", "Fast")]
    [Fact]
    public void DoubleFree_AndUnknownPointers_AreCountedWithTheirEventIndex()
    {
        var s = new TraceStatistics();
        s.Add([Malloc(10, 0x100), Free(0x100), Free(0x100), Free(0x999), Realloc(0x555, 8, 0x200), Malloc(4, 0x200)]);

        Assert.Equal(1, s.AnomalyCount(TraceAnomalyKind.DoubleFree));
        Assert.Equal(1, s.AnomalyCount(TraceAnomalyKind.FreeOfUnknownPointer));
        Assert.Equal(1, s.AnomalyCount(TraceAnomalyKind.ReallocOfUnknownPointer));
        Assert.Equal(1, s.AnomalyCount(TraceAnomalyKind.AllocationOfLiveAddress));
        Assert.Equal([2L, 3L, 4L, 5L], s.AnomalyExamples.Select(a => a.EventIndex));
        Assert.Equal(4UL, s.LiveBytes);   // the allocation of a live address replaced the realloc'd block
    }

    [Trait("Category", "Fast")]
    [Fact]
    public void Histogram_BucketsArePowersOfTwo()
    {
        Assert.Equal(0, TraceStatistics.BucketOf(0));
        Assert.Equal(1, TraceStatistics.BucketOf(1));
        Assert.Equal(2, TraceStatistics.BucketOf(3));
        Assert.Equal(5, TraceStatistics.BucketOf(16));
        Assert.Equal(5, TraceStatistics.BucketOf(31));
        Assert.Equal(64, TraceStatistics.BucketOf(ulong.MaxValue));
        Assert.Equal(16UL, TraceStatistics.BucketLowerBound(5));
    }
}
