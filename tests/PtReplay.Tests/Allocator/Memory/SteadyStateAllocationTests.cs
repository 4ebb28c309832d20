using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;

namespace PtReplay.Tests.Allocator.Memory;

/// <summary>
/// The model allocates nothing on the managed heap once a path is in a steady state (the heap the same after every pair of
/// calls), on every path of ptmalloc, the ones that map and unmap memory or trim the heap included: a managed allocation
/// inside a timed call could start a garbage collection there and be timed as the model's cost. Each path is steered by
/// the tunables a program could set (no tcache, no fastbins, a fixed mmap threshold).
/// </summary>
[Trait("Category", "Fast")]
public sealed class SteadyStateAllocationTests
{
    public static TheoryData<string, string, ulong> Paths => new()
    {
        { "tcache", "", 48 },
        { "fastbin", "glibc.malloc.tcache_count=0", 48 },
        { "unsorted exact fit", "glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0", 512 },
        { "large from top, merged back and trimmed", "glibc.malloc.mmap_threshold=4194304", 512 * 1024 },
        { "mmapped chunk, unmapped on free", "glibc.malloc.mmap_threshold=131072", 256 * 1024 },
        { "mmapped chunk larger than the resident pages", "glibc.malloc.mmap_threshold=131072", 64UL << 20 },
    };

    [Theory]
    [MemberData(nameof(Paths))]
    public void MallocFreePairs_AllocateNoManagedMemory_OnceSteady(string path, string tunables, ulong size)
    {
        var model = new Ptmalloc(new ModelOptions
        {
            Tunables = tunables.Length == 0 ? MallocTunables.Default : MallocTunables.ParseChecked(tunables),
            Touch = TouchModel.Page,
        });
        model.Malloc(0, 32);
        if (size == 512)
        {
            model.Free(0, model.Malloc(0, 512));
            model.Malloc(0, 32); // a guard between the 512-byte chunk and top
        }

        ulong first = 0;
        for (int i = 0; i < 64; i++)
        {
            ulong p = model.Malloc(0, size);
            first = i == 0 ? p : first;
            Assert.Equal(first, p); // the same block every time: a steady state, one path
            model.Free(0, p);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 256; i++)
        {
            model.Free(0, model.Malloc(0, size));
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated == 0, $"{path}: {allocated} managed bytes over 256 malloc/free pairs");
    }

    [Fact]
    public void CallocAndRealloc_AllocateNoManagedMemory_OnceSteady()
    {
        var model = new Ptmalloc(new ModelOptions { Touch = TouchModel.Page });
        ulong block = model.Malloc(0, 64);
        model.Malloc(0, 32); // a neighbour: growing the block must move it
        for (int i = 0; i < 64; i++)
        {
            model.Free(0, model.Calloc(0, 6, 8));
            block = model.Realloc(0, block, (i & 1) == 0 ? 1000UL : 64UL);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 256; i++)
        {
            model.Free(0, model.Calloc(0, 6, 8));
            block = model.Realloc(0, block, (i & 1) == 0 ? 1000UL : 64UL);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
