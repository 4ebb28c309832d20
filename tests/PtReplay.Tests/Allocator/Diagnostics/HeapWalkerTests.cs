using PtReplay.Allocator;
using PtReplay.Allocator.Diagnostics;

namespace PtReplay.Tests.Allocator.Diagnostics;

/// <summary>
/// The heap walk over a model driven with random calls on three threads (three arenas), sizes from tcache to mmapped, and
/// one thread arena pushed past a 64 MiB heap: at each checkpoint every region is tiled exactly, every block the test
/// holds is an in-use (or mmapped) chunk at its pointer, and the walk's free and mmapped bytes equal mallinfo2's.
/// </summary>
[Trait("Category", "Fast")]
public class HeapWalkerTests
{
    private static readonly (ulong Min, ulong Max)[] SizeRanges =
        [(1, 400), (16, 120), (1100, 4000), (20_000, 100_000), (200_000, 600_000)];

    [Fact]
    public void Walk_TilesEveryRegion_FindsEveryLiveBlock_AndAgreesWithMallinfo2()
    {
        var model = new Ptmalloc(new ModelOptions());
        var rng = new Random(12345);
        var live = new List<(int Thread, ulong Ptr)>();
        var seen = new HashSet<ChunkState>();
        for (int op = 0; op < 6000; op++)
        {
            int thread = rng.Next(3);
            if (live.Count > 0 && rng.Next(10) < 4)
            {
                int i = rng.Next(live.Count);
                model.Free(live[i].Thread, live[i].Ptr);
                live[i] = live[^1];
                live.RemoveAt(live.Count - 1);
            }
            else
            {
                var (min, max) = SizeRanges[rng.Next(SizeRanges.Length)];
                live.Add((thread, model.Malloc(thread, min + (ulong)rng.NextInt64((long)(max - min)))));
            }

            if (op % 250 == 0)
            {
                Check(model, live, seen);
            }
        }

        // Past one 64 MiB heap: thread 1's arena gets a second heap, its first closed by fenceposts.
        for (int i = 0; i < 800; i++)
        {
            live.Add((1, model.Malloc(1, 100_000)));
        }

        // 20 blocks of one fastbin size freed: 7 fill the tcache bin, the rest go to the fastbin.
        var small = new ulong[20];
        for (int i = 0; i < small.Length; i++)
        {
            small[i] = model.Malloc(0, 40);
        }

        foreach (ulong p in small)
        {
            model.Free(0, p);
        }

        Check(model, live, seen);
        // Every state was met at some checkpoint, so each kind of chunk went through the checks.
        Assert.Empty(Enum.GetValues<ChunkState>().Except(seen));
    }

    private static void Check(Ptmalloc model, List<(int Thread, ulong Ptr)> live, HashSet<ChunkState> seen)
    {
        HeapSnapshot snap = model.WalkHeap();
        var states = new Dictionary<ulong, ChunkState>();
        ulong free = 0, mmapped = 0;
        long mmaps = 0;
        HeapRegion? previous = null;
        foreach (HeapRegion r in snap.Regions)
        {
            Assert.True(previous is null || previous.End <= r.Start, "regions overlap");
            previous = r;
            ulong at = r.Start;
            foreach (HeapChunk c in r.Chunks)
            {
                Assert.Equal(at, c.Address);
                at += c.Size;
                states[c.Address] = c.State;
                seen.Add(c.State);
                if (c.State is ChunkState.Fastbin or ChunkState.Unsorted or ChunkState.SmallBin or ChunkState.LargeBin or ChunkState.Top)
                {
                    free += c.Size;
                }
                else if (c.State == ChunkState.Mmapped)
                {
                    mmapped += c.Size;
                    mmaps++;
                }
            }

            Assert.Equal(r.End, at);
        }

        foreach (var (_, ptr) in live)
        {
            Assert.True(states.TryGetValue(ptr - 16, out ChunkState s), $"live block 0x{ptr:x} is no chunk of the walk");
            Assert.True(s is ChunkState.InUse or ChunkState.Mmapped, $"live block 0x{ptr:x} walked as {s}");
        }

        MallInfo2 mi = model.MallInfo2();
        Assert.Equal(mi.Fordblks, free);
        Assert.Equal(mi.Hblkhd, mmapped);
        Assert.Equal((long)mi.Hblks, mmaps);
    }
}
