namespace PtReplay.Tests.Allocator;

/// <summary>
/// Address parity with the real glibc 2.36: scripts run through Assets/driver.c (compiled with gcc at test
/// time, clean environment) and through the model; every returned address must match (heap chunks
/// exactly, since the model starts from the same brk0; mmapped chunks by usable size), and the heap
/// validator runs after every call.
/// </summary>
public class PtmallocParityTests
{
    private static void AssertParity(DriverScript script, string tunables = "")
    {
        var outcome = ParityHarness.Run(script, tunables);
        Assert.True(outcome.FirstDivergence is null, outcome.FirstDivergence);
        Assert.Equal(outcome.Compared, outcome.Identical);
        Assert.True(outcome.Compared > 0);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RandomScripts_AllEntryPoints_MatchGlibc(int seed) =>
        AssertParity(ScriptGenerator.Random(seed, 4000));

    [Theory]
    [InlineData(11, "glibc.malloc.tcache_count=0")]
    [InlineData(12, "glibc.malloc.tcache_count=20")]
    [InlineData(13, "glibc.malloc.mxfast=0")]
    [InlineData(14, "glibc.malloc.mxfast=160")]
    [InlineData(15, "glibc.malloc.mmap_threshold=65536")]
    [InlineData(16, "glibc.malloc.trim_threshold=4096")]
    [InlineData(17, "glibc.malloc.top_pad=0")]
    [InlineData(18, "glibc.malloc.top_pad=1048576")]
    [InlineData(19, "glibc.malloc.tcache_max=100:glibc.malloc.tcache_unsorted_limit=3")]
    [InlineData(20, "glibc.malloc.mmap_max=0")]
    [InlineData(21, "glibc.malloc.hugetlb=1")]
    [InlineData(22, "glibc.malloc.perturb=165")]
    [InlineData(23, "glibc.malloc.arena_test=1")]
    public void RandomScripts_WithTunables_MatchGlibc(int seed, string tunables) =>
        AssertParity(ScriptGenerator.Random(seed, 3000), tunables);

    [Theory]
    [InlineData(51)]
    [InlineData(52)]
    public void RandomScripts_WithMalloptCalls_MatchGlibc(int seed) =>
        AssertParity(ScriptGenerator.Random(seed, 4000, mallopt: true));

    /// <summary>Requests glibc refuses: NULL/ENOMEM/EINVAL at the same calls, and the heap goes on identically.</summary>
    [Fact]
    public void FailingRequests_MatchGlibc()
    {
        const ulong huge = 1UL << 50;
        var s = new DriverScript();
        s.Add(DriverOp.Malloc, 0, 100);
        s.Add(DriverOp.Malloc, 1, huge);
        s.Add(DriverOp.Malloc, 2, ulong.MaxValue - 8);
        s.Add(DriverOp.Calloc, 3, 1UL << 33, 1UL << 33);      // overflows
        s.Add(DriverOp.Calloc, 4, 1UL << 25, 1UL << 25);      // 2^50 bytes
        s.Add(DriverOp.Realloc, 0, huge);                      // fails, block 0 stays
        s.Add(DriverOp.ReallocArray, 0, 1UL << 40, 1UL << 40); // overflows
        s.Add(DriverOp.Memalign, 5, 1UL << 20, huge);
        s.Add(DriverOp.Memalign, 6, 3, 100);                   // alignment rounded up to 32
        s.Add(DriverOp.Memalign, 7, (1UL << 63) + 1, 100);    // EINVAL
        s.Add(DriverOp.PosixMemalign, 8, 12, 100);             // EINVAL: not a power of two multiple of 8
        s.Add(DriverOp.PosixMemalign, 9, 1UL << 20, huge);     // ENOMEM
        s.Add(DriverOp.Pvalloc, 10, ulong.MaxValue - 100);
        s.Add(DriverOp.Valloc, 11, huge);
        s.Add(DriverOp.Realloc, 0, 5000);
        s.Add(DriverOp.Malloc, 12, 300_000);
        s.Add(DriverOp.Realloc, 12, huge);                     // mmapped chunk: mremap fails, stays
        s.Add(DriverOp.Free, 12);
        s.Add(DriverOp.Malloc, 13, 40);
        AssertParity(s);
    }

    [Fact]
    public void SmallChurn_FastbinsAndConsolidation_MatchGlibc()
    {
        var s = new DriverScript();
        var r = new Random(5);
        for (int round = 0; round < 30; round++)
        {
            for (int i = 0; i < 40; i++)
                s.Add(DriverOp.Malloc, i, (ulong)r.Next(1, 130));
            for (int i = 0; i < 40; i += 1 + (round % 3))
                s.Add(DriverOp.Free, i);
            s.Add(DriverOp.Malloc, 50, (ulong)(2000 + round * 100)); // large request: consolidates fastbins
            s.Add(DriverOp.Free, 50);
        }
        AssertParity(s);
    }

    [Theory]
    [InlineData(41, 1, "")]
    [InlineData(42, 4, "glibc.malloc.tcache_count=0")]
    public void MallocInfoXml_MatchesGlibc(int seed, int threads, string tunables)
    {
        var s = threads == 1 ? ScriptGenerator.Random(seed, 2000) : ThreadScriptGenerator.Random(seed, threads, 2000);
        s.Add(DriverOp.MallocInfo, 0);
        var outcome = ParityHarness.Run(s, tunables);
        Assert.True(outcome.FirstDivergence is null, outcome.FirstDivergence);
        Assert.Contains("<heap nr=\"0\">", outcome.MallocInfo.Glibc, StringComparison.Ordinal);
        Assert.Equal(outcome.MallocInfo.Glibc, outcome.MallocInfo.Model);
    }

    /// <summary>
    /// Page residency of the break area (mincore in the real process) equals the model's RSS model when the
    /// program never touches its blocks: only glibc's own writes (headers, links, calloc's memset) make pages resident,
    /// and trimming/malloc_trim's madvise drop them.
    /// </summary>
    [Theory]
    [InlineData(71, "")]
    [InlineData(72, "glibc.malloc.trim_threshold=0:glibc.malloc.top_pad=0")]
    public void HeapResidency_MatchesMincore(int seed, string tunables)
    {
        var generated = ScriptGenerator.Random(seed, 3000);
        var s = new DriverScript { Slots = generated.Slots };
        for (int i = 0; i < generated.Calls.Count; i++)
        {
            s.Calls.Add(generated.Calls[i]);
            if (i % 100 == 99)
                s.Add(DriverOp.HeapResident, 0);
        }
        var outcome = ParityHarness.Run(s, tunables);
        Assert.True(outcome.FirstDivergence is null, outcome.FirstDivergence);
    }
}
