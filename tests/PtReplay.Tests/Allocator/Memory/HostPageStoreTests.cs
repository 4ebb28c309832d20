using PtReplay.Allocator;

namespace PtReplay.Tests.Allocator.Memory;

/// <summary>
/// The simulated pages' host memory is not on the managed heap: a model whose heap grows by thousands of pages allocates
/// a small fraction of that in managed memory (its page tables), so its calls do not start garbage collections by
/// growing. (That dropped pages read as never written when taken again is checked against glibc by the parity tests.)
/// </summary>
[Trait("Category", "Fast")]
public sealed class HostPageStoreTests
{
    [Fact]
    public void GrowingHeap_AllocatesLittleManagedMemory()
    {
        var model = new Ptmalloc(new ModelOptions { Touch = TouchModel.Page });
        // The code's first run (JIT, type loading) and the first tables, out of the measure.
        model.Free(0, model.Malloc(0, 100));

        const int Blocks = 20_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Blocks; i++)
        {
            model.Malloc(0, 4000);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        ulong footprint = model.Footprint.CommittedBytes;
        Assert.True(footprint >= Blocks * 4000UL);
        Assert.True((ulong)allocated < footprint / 16, $"{allocated} managed bytes allocated for {footprint} bytes of simulated heap");
    }
}
