using PtReplay.Allocator;

namespace PtReplay.Tests.Allocator.Memory;

/// <summary>
/// <see cref="Ptmalloc.ReserveHostPages"/> only moves host allocations earlier: a model with reserved page arrays
/// returns the same addresses and reports the same footprint and residency, call by call, as one without, also once
/// pages have been dropped (trims, munmap) and reused.
/// </summary>
[Trait("Category", "Fast")]
public sealed class HostPageReserveTests
{
    [Fact]
    public void ReservedModel_MatchesAPlainOne_CallByCall()
    {
        var options = new ModelOptions { Touch = TouchModel.Page };
        var plain = new Ptmalloc(options);
        var reserved = new Ptmalloc(options);
        reserved.ReserveHostPages(64);

        var random = new Random(7);
        var live = new List<(ulong Plain, ulong Reserved)>();
        for (int i = 0; i < 20_000; i++)
        {
            int thread = random.Next(3);
            int action = random.Next(10);
            if (action < 5 || live.Count == 0)
            {
                ulong size = random.Next(4) == 0 ? (ulong)random.Next(1, 300_000) : (ulong)random.Next(1, 2000);
                live.Add((plain.Malloc(thread, size), reserved.Malloc(thread, size)));
            }
            else if (action < 8)
            {
                int k = random.Next(live.Count);
                plain.Free(thread, live[k].Plain);
                reserved.Free(thread, live[k].Reserved);
                live.RemoveAt(k);
            }
            else
            {
                int k = random.Next(live.Count);
                ulong size = (ulong)random.Next(1, 200_000);
                live[k] = (plain.Realloc(thread, live[k].Plain, size), reserved.Realloc(thread, live[k].Reserved, size));
            }

            Assert.All(live.TakeLast(1), l => Assert.Equal(l.Plain, l.Reserved));
            Assert.Equal(plain.Footprint, reserved.Footprint);
        }

        Assert.All(live, l => Assert.Equal(l.Plain, l.Reserved));
        Assert.Equal(plain.MallInfo2(), reserved.MallInfo2());
    }
}
