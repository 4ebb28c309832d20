using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Diagnostics;

/// <summary>
/// Read-only walk of every chunk of the model (the same structures <see cref="HeapValidator"/> checks): the main arena's
/// break heap, each heap of each thread arena, and each mmapped chunk. A chunk's state comes from the free lists
/// (tcache, fastbins, unsorted, small and large bins), from being the arena's top, or else it is in use.
/// Invariant: within a region the chunks tile the region exactly (sizes add up to its extent); a walk that does not
/// throws <see cref="InvalidOperationException"/>. Nothing in the model is changed.
/// </summary>
internal static class HeapWalker
{
    public static HeapSnapshot Walk(MallocState s)
    {
        var m = s.M;
        var states = new Dictionary<ulong, ChunkState>();
        foreach (var t in s.Threads)
        {
            if (t.Tcache is not { } tc)
                continue;
            for (int i = 0; i < Tcache.MaxBins; i++)
                for (ulong e = tc.Entries[i], n = 0; e != 0 && n < (ulong)tc.Counts[i]; e = m.ReadProtected(e), n++)
                    states[Chunk.FromMem(e)] = ChunkState.Tcache;
        }

        var regions = new List<HeapRegion>();
        ulong unwalked = 0;
        var a = s.Main;
        do
        {
            for (int i = 0; i < BinIndex.NFastBins; i++)
                for (ulong p = a.FastbinsY[i]; p != 0; p = m.ReadProtected(p + 16))
                    states[p] = ChunkState.Fastbin;
            for (int i = 1; i < BinIndex.NBins; i++)
            {
                ulong bin = a.BinAt(i);
                ChunkState st = i == 1 ? ChunkState.Unsorted : i < 64 ? ChunkState.SmallBin : ChunkState.LargeBin;
                for (ulong p = m.Fd(bin); p != bin; p = m.Fd(p))
                    states[p] = st;
            }

            if (a.Top != a.Unsorted)
            {
                if (a.IsMain && !a.Contiguous)
                {
                    unwalked += a.SystemMem;
                }
                else if (a.IsMain)
                {
                    ulong start = Align(s.Mp.SbrkBase);
                    regions.Add(WalkRegion(s, "brk", 0, start, a.Top + m.ChunkSize(a.Top), a.Top, states));
                }
                else
                {
                    HeapInfo current = s.HeapForPtr(a.Top);
                    for (HeapInfo? h = current; h is not null; h = h.Prev)
                    {
                        ulong start = h.Index == 0 ? Align(a.StateAddress + Arena.StateSize) : h.Base + HeapInfo.HeaderSize;
                        regions.Add(WalkRegion(s, "heap", a.CreationIndex, start, h.Base + h.Size, h == current ? a.Top : 0, states));
                    }
                }
            }

            a = a.Next!;
        }
        while (a != s.Main);

        foreach (var (start, length) in s.Space.Mappings())
        {
            if (s.Heaps.ContainsKey(start & ~(HeapInfo.MaxSize - 1)))
                continue; // an arena heap's reservation
            ulong p = FindMmappedChunk(s, start, length);
            if (p == 0)
                continue; // not a chunk's mapping (a non-contiguous main heap piece: counted in UnwalkedMainBytes)
            ulong size = m.ChunkSize(p);
            regions.Add(new HeapRegion
            {
                Kind = "mmap",
                Arena = -1,
                Start = p,
                End = p + size,
                Chunks = [new HeapChunk(p, size, ChunkState.Mmapped)],
            });
        }

        regions.Sort((x, y) => x.Start.CompareTo(y.Start));
        return new HeapSnapshot { Regions = regions, ArenaCount = s.Arenas.Count, UnwalkedMainBytes = unwalked };
    }

    private static ulong Align(ulong chunk)
    {
        ulong mis = Chunk.ToMem(chunk) & Chunk.AlignMask;
        return mis == 0 ? chunk : chunk + Chunk.Alignment - mis;
    }

    /// <summary>
    /// The mmapped chunk a mapping holds: at its start, or (memalign) at offset prev_size, with the IS_MMAPPED bit
    /// and prev_size + size equal to the mapping's length. 0 when the mapping holds none.
    /// </summary>
    private static ulong FindMmappedChunk(MallocState s, ulong start, ulong length)
    {
        var m = s.M;
        ulong limit = Math.Min(length, 1UL << 20);
        for (ulong o = 0; o + Chunk.MinSize <= limit; o += Chunk.Alignment)
        {
            ulong p = start + o;
            if (m.IsMmappedChunk(p) && m.PrevSize(p) == o && o + m.ChunkSize(p) == length)
                return p;
        }

        return 0;
    }

    /// <summary>Walks [start, end): chunk by chunk until top (when given) or a fencepost (size at most one header).</summary>
    private static HeapRegion WalkRegion(MallocState s, string kind, int arena, ulong start, ulong end, ulong top, Dictionary<ulong, ChunkState> states)
    {
        var m = s.M;
        var chunks = new List<HeapChunk>();
        ulong p = start;
        while (p < end)
        {
            ulong size = m.ChunkSize(p);
            if (p == top)
            {
                chunks.Add(new HeapChunk(p, size, ChunkState.Top));
            }
            else if (top == 0 && size <= Chunk.HeaderSize)
            {
                chunks.Add(new HeapChunk(p, end - p, ChunkState.Fencepost));
                size = end - p;
            }
            else
            {
                if (size < Chunk.MinSize || (size & Chunk.AlignMask) != 0)
                    throw new InvalidOperationException($"heap walk: bad chunk size {Ptmalloc.Hex(size)} at {Ptmalloc.Hex(p)}");
                chunks.Add(new HeapChunk(p, size, states.TryGetValue(p, out ChunkState st) ? st : ChunkState.InUse));
            }

            p += size;
        }

        ulong sum = 0;
        foreach (HeapChunk c in chunks)
            sum += c.Size;
        if (p != end || sum != end - start)
            throw new InvalidOperationException(
                $"heap walk: chunks of {Ptmalloc.Hex(start)}..{Ptmalloc.Hex(end)} add up to {Ptmalloc.Hex(sum)}, not its extent {Ptmalloc.Hex(end - start)}");
        return new HeapRegion { Kind = kind, Arena = arena, Start = start, End = end, Chunks = chunks };
    }
}
