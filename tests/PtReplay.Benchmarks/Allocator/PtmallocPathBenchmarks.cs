using BenchmarkDotNet.Attributes;
using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;

namespace PtReplay.Benchmarks.Allocator;

/// <summary>
/// The model's cost per call on each of ptmalloc's paths, one benchmark per path, each a malloc/free (or calloc/realloc)
/// pair repeated in a steady state: the heap is the same after every pair, so every pair takes the same path. Tunables
/// steer the calls onto the path (no tcache, no fastbins, a fixed mmap threshold), as a program could with
/// GLIBC_TUNABLES. MemoryDiagnoser must report 0 B allocated per operation: the model allocates nothing on the managed
/// heap in a steady state. The figures are per pair (OperationsPerInvoke), to be read side by side in one run.
/// Run: dotnet run -c Release --project tests/PtReplay.Benchmarks -- --filter '*PtmallocPathBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class PtmallocPathBenchmarks
{
    private const int Pairs = 1024;

    private Ptmalloc _tcache = null!;
    private Ptmalloc _fastbin = null!;
    private Ptmalloc _unsorted = null!;
    private Ptmalloc _mmapped = null!;
    private Ptmalloc _topTrim = null!;
    private ulong _growing;
    private Ptmalloc _realloc = null!;

    [GlobalSetup]
    public void Setup()
    {
        _tcache = Model("");
        _fastbin = Model("glibc.malloc.tcache_count=0");
        // No tcache, no fastbins: a freed 512-byte block goes to the unsorted bin, and the next malloc of 512 takes it back
        // as an exact fit (the guard keeps it from merging into top).
        _unsorted = Model("glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0");
        // A fixed threshold (no dynamic raise on free): every 256 KiB block is its own mapping.
        _mmapped = Model("glibc.malloc.mmap_threshold=131072");
        // Large blocks from top under a high mmap threshold; freeing one merges it into top and trims the heap back.
        _topTrim = Model("glibc.malloc.mmap_threshold=4194304");
        _realloc = Model("");
        _growing = _realloc.Malloc(0, 64);
        _realloc.Malloc(0, 32); // a neighbour, so growing the block cannot extend into top
        foreach (Ptmalloc m in new[] { _tcache, _fastbin, _unsorted, _mmapped, _topTrim })
        {
            m.Malloc(0, 32); // heap set up, the first block's one-time work done
        }

        _unsorted.Free(0, _unsorted.Malloc(0, 512));
        _unsorted.Malloc(0, 32); // guard between the 512-byte chunk and top
    }

    private static Ptmalloc Model(string tunables) => new(new ModelOptions
    {
        Tunables = tunables.Length == 0 ? MallocTunables.Default : MallocTunables.ParseChecked(tunables),
    });

    /// <summary>malloc(48)/free: both served by the thread's tcache.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Pairs)]
    public ulong TcacheHit() => Pair(_tcache, 48);

    /// <summary>malloc(48)/free with the tcache off: the fastbin's singly linked list.</summary>
    [Benchmark(OperationsPerInvoke = Pairs)]
    public ulong Fastbin() => Pair(_fastbin, 48);

    /// <summary>malloc(512)/free without tcache and fastbins: free links into the unsorted bin, malloc takes it as an exact fit.</summary>
    [Benchmark(OperationsPerInvoke = Pairs)]
    public ulong UnsortedExactFit() => Pair(_unsorted, 512);

    /// <summary>malloc(256 KiB)/free above a fixed mmap threshold: a simulated mmap and munmap per pair.</summary>
    [Benchmark(OperationsPerInvoke = Pairs)]
    public ulong MmappedChunk() => Pair(_mmapped, 256 * 1024);

    /// <summary>malloc(512 KiB)/free under a high mmap threshold: split from top (growing the heap), then merged back and trimmed.</summary>
    [Benchmark(OperationsPerInvoke = Pairs)]
    public ulong TopSplitAndTrim() => Pair(_topTrim, 512 * 1024);

    /// <summary>calloc(6, 8)/free: the tcache path plus clearing the block.</summary>
    [Benchmark(OperationsPerInvoke = Pairs)]
    public ulong CallocTcache()
    {
        ulong sum = 0;
        for (int k = 0; k < Pairs; k++)
        {
            ulong p = _tcache.Calloc(0, 6, 8);
            _tcache.Free(0, p);
            sum += p;
        }

        return sum;
    }

    /// <summary>realloc of one block to 1,000 bytes and back to 64: a move (malloc, copy, free) each way.</summary>
    [Benchmark(OperationsPerInvoke = Pairs)]
    public ulong ReallocMove()
    {
        ulong sum = 0;
        for (int k = 0; k < Pairs; k++)
        {
            _growing = _realloc.Realloc(0, _growing, (k & 1) == 0 ? 1000UL : 64UL);
            sum += _growing;
        }

        return sum;
    }

    private static ulong Pair(Ptmalloc model, ulong size)
    {
        ulong sum = 0;
        for (int k = 0; k < Pairs; k++)
        {
            ulong p = model.Malloc(0, size);
            model.Free(0, p);
            sum += p;
        }

        return sum;
    }
}
