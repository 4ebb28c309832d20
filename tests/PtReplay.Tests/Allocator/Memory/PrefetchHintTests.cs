using PtReplay.Allocator;

namespace PtReplay.Tests.Allocator.Memory;

/// <summary>
/// <see cref="Ptmalloc.PrefetchBlock"/> is only a hint: a model that is given it before every free and realloc, also for
/// blocks freed already, null, unmapped and wrapping addresses and absurd sizes, returns the same addresses and reports
/// the same footprint, residency and mallinfo2, call by call, as one that is not.
/// </summary>
[Trait("Category", "Fast")]
public sealed class PrefetchHintTests
{
    [Fact]
    public void HintedModel_MatchesAPlainOne_CallByCall()
    {
        var options = new ModelOptions { Touch = TouchModel.Page };
        var plain = new Ptmalloc(options);
        var hinted = new Ptmalloc(options);
        ulong[] odd = [0, 8, 16, ulong.MaxValue, ulong.MaxValue - 15, 0x7fff_0000_0000, options.Brk0, options.Brk0 + (1UL << 33)];

        var random = new Random(11);
        var live = new List<(ulong Plain, ulong Hinted, ulong Size)>();
        var freed = new List<ulong>();
        for (int i = 0; i < 20_000; i++)
        {
            int action = random.Next(10);
            hinted.PrefetchBlock(odd[random.Next(odd.Length)], (ulong)random.NextInt64());
            if (freed.Count > 0)
            {
                hinted.PrefetchBlock(freed[random.Next(freed.Count)], (ulong)random.Next(1, 5000));
            }

            if (action < 5 || live.Count == 0)
            {
                ulong size = random.Next(8) == 0 ? (ulong)random.Next(1, 300_000) : (ulong)random.Next(1, 2000);
                live.Add((plain.Malloc(0, size), hinted.Malloc(0, size), size));
            }
            else if (action < 8)
            {
                int k = random.Next(live.Count);
                hinted.PrefetchBlock(live[k].Hinted, live[k].Size);
                plain.Free(0, live[k].Plain);
                hinted.Free(0, live[k].Hinted);
                freed.Add(live[k].Hinted);
                live.RemoveAt(k);
            }
            else
            {
                int k = random.Next(live.Count);
                ulong size = (ulong)random.Next(1, 200_000);
                hinted.PrefetchBlock(live[k].Hinted, size);
                live[k] = (plain.Realloc(0, live[k].Plain, size), hinted.Realloc(0, live[k].Hinted, size), size);
            }

            Assert.All(live.TakeLast(1), l => Assert.Equal(l.Plain, l.Hinted));
            Assert.Equal(plain.Footprint, hinted.Footprint);
        }

        Assert.All(live, l => Assert.Equal(l.Plain, l.Hinted));
        Assert.Equal(plain.MallInfo2(), hinted.MallInfo2());
        Assert.True(freed.Count > 1000);
    }
}
