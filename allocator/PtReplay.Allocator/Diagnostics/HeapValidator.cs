using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Diagnostics;

/// <summary>
/// Checks the allocator invariants (used after every event in tests):
/// <list type="number">
/// <item>Chunk walk: from the first chunk of the main heap (and of every arena heap) chunks tile the space
/// up to top (or a heap's fencepost) with aligned sizes of at least MINSIZE.</item>
/// <item>A chunk is free (next chunk's P bit clear) exactly when it is in a regular bin; free chunks have a
/// matching foot (next prev_size) and never touch another free chunk or top (they would have been merged).</item>
/// <item>Bin lists are consistent doubly linked lists; small bins hold only their size, large bins only
/// their range, sorted by decreasing size with a consistent nextsize skip list; non-empty bins have their binmap bit.</item>
/// <item>Fastbin and tcache chunks look in use, have the size of their bin; tcache counts match the lists.</item>
/// <item>Top has P set, at least MINSIZE once the heap exists, and (main arena) ends at the break.</item>
/// </list>
/// </summary>
internal static class HeapValidator
{
    public static void Validate(MallocState s)
    {
        var a = s.Main;
        do
        {
            ValidateArena(s, a);
            a = a.Next!;
        }
        while (a != s.Main);
        foreach (var t in s.Threads)
            if (t.Tcache is { } tc)
                ValidateTcache(s, tc);
    }

    private static void Fail(string what) => throw new InvalidOperationException("heap invariant violated: " + what);

    private static void ValidateArena(MallocState s, Arena a)
    {
        var m = s.M;
        var binned = new HashSet<ulong>();
        for (int i = 1; i < BinIndex.NBins; i++)
        {
            ulong bin = a.BinAt(i);
            ulong prev = bin;
            ulong lastSize = ulong.MaxValue;
            int guard = 0;
            for (ulong p = m.Fd(bin); p != bin; p = m.Fd(p))
            {
                if (++guard > 10_000_000)
                    Fail($"bin {i} does not cycle");
                if (m.Bk(p) != prev)
                    Fail($"bin {i}: bk of {Ptmalloc.Hex(p)} is {Ptmalloc.Hex(m.Bk(p))}, expected {Ptmalloc.Hex(prev)}");
                if (!binned.Add(p))
                    Fail($"chunk {Ptmalloc.Hex(p)} is in two bins");
                ulong size = m.ChunkSize(p);
                if (i == 1)
                {
                    // any size
                }
                else if (i < 64)
                {
                    if (BinIndex.SmallbinIndex(size) != i || !BinIndex.InSmallbinRange(size))
                        Fail($"small bin {i} holds size {Ptmalloc.Hex(size)}");
                }
                else
                {
                    if (BinIndex.InSmallbinRange(size) || BinIndex.LargebinIndex(size) != i)
                        Fail($"large bin {i} holds size {Ptmalloc.Hex(size)}");
                    if (size > lastSize)
                        Fail($"large bin {i} not sorted at {Ptmalloc.Hex(p)}");
                    bool firstOfSize = size != lastSize;
                    if (firstOfSize)
                    {
                        if (m.FdNextSize(p) == 0 || m.BkNextSize(m.FdNextSize(p)) != p)
                            Fail($"large bin {i}: broken nextsize links at {Ptmalloc.Hex(p)}");
                    }
                    lastSize = size;
                }
                if (m.InUse(p))
                    Fail($"chunk {Ptmalloc.Hex(p)} in bin {i} is marked in use");
                if (m.PrevSize(p + size) != size)
                    Fail($"chunk {Ptmalloc.Hex(p)}: foot {Ptmalloc.Hex(m.PrevSize(p + size))} != size {Ptmalloc.Hex(size)}");
                prev = p;
            }
            if (m.Bk(bin) != prev)
                Fail($"bin {i}: bk of header is wrong");
            if (i >= 2 && m.Fd(bin) != bin && !a.BinMarked(i))
                Fail($"bin {i} non-empty but binmap bit clear");
        }

        var fast = new HashSet<ulong>();
        for (int i = 0; i < BinIndex.NFastBins; i++)
        {
            for (ulong p = a.FastbinsY[i]; p != 0; p = m.ReadProtected(p + 16))
            {
                if (!fast.Add(p))
                    Fail($"fastbin {i} has a cycle at {Ptmalloc.Hex(p)}");
                if (BinIndex.FastbinIndex(m.ChunkSize(p)) != i)
                    Fail($"fastbin {i} holds size {Ptmalloc.Hex(m.ChunkSize(p))}");
                if (!m.InUse(p))
                    Fail($"fastbin chunk {Ptmalloc.Hex(p)} not marked in use");
            }
        }
        if (fast.Count > 0 && !a.HaveFastchunks)
            Fail("fastbins non-empty but have_fastchunks clear");

        if (a.Top == a.Unsorted)
        {
            if (binned.Count != 0)
                Fail("bins non-empty before the heap exists");
            return;
        }
        ulong top = a.Top;
        ulong topSize = m.ChunkSize(top);
        if (!m.PrevInUse(top))
            Fail("top has P clear");
        if (topSize < Chunk.MinSize)
            Fail($"top size {Ptmalloc.Hex(topSize)} below MINSIZE");

        int walkedFree = 0;
        if (a.IsMain && !a.Contiguous)
        {
            return; // after an mmap fallback the main heap is split in regions the walk cannot follow
        }
        if (a.IsMain)
        {
            ulong start = s.Mp.SbrkBase;
            ulong mis = Chunk.ToMem(start) & Chunk.AlignMask;
            if (mis != 0)
                start += Chunk.Alignment - mis;
            if (a.Contiguous && top + topSize != s.Space.Brk)
                Fail($"top ends at {Ptmalloc.Hex(top + topSize)}, break is {Ptmalloc.Hex(s.Space.Brk)}");
            walkedFree += Walk(s, a, start, top, binned);
        }
        else
        {
            for (var h = s.HeapForPtr(top); h is not null; h = h.Prev)
            {
                ulong start = h.Base + HeapInfo.HeaderSize;
                if (h.Index == 0)
                {
                    start = a.StateAddress + Arena.StateSize;
                    ulong mis = Chunk.ToMem(start) & Chunk.AlignMask;
                    if (mis != 0)
                        start += Chunk.Alignment - mis;
                }
                ulong end = h == s.HeapForPtr(top) ? top : 0;
                walkedFree += Walk(s, a, start, end, binned);
                if (end != 0 && top + topSize != h.Base + h.Size)
                    Fail($"arena {a.CreationIndex}: top ends at {Ptmalloc.Hex(top + topSize)}, heap ends at {Ptmalloc.Hex(h.Base + h.Size)}");
            }
        }
        if (walkedFree != binned.Count)
            Fail($"arena {a.CreationIndex}: {binned.Count} chunks in bins but {walkedFree} free chunks in the heap");
    }

    /// <summary>Walks chunks from start to end (end 0: until a fencepost of size 0). Returns the free chunks met.</summary>
    private static int Walk(MallocState s, Arena a, ulong start, ulong end, HashSet<ulong> binned)
    {
        var m = s.M;
        int free = 0;
        bool prevFree = false;
        ulong p = start;
        for (int guard = 0; end == 0 || p < end; guard++)
        {
            ulong size = m.ChunkSize(p);
            if (end == 0 && size <= Chunk.HeaderSize)
                return free; // fencepost pair of a full heap
            if (size < Chunk.HeaderSize || (size & Chunk.AlignMask) != 0)
                Fail($"arena {a.CreationIndex}: bad chunk size {Ptmalloc.Hex(size)} at {Ptmalloc.Hex(p)}");
            if (m.IsMainArenaChunk(p) != a.IsMain && m.InUse(p) && size >= Chunk.MinSize)
                Fail($"chunk {Ptmalloc.Hex(p)} has the wrong NON_MAIN_ARENA bit");
            bool isFree = !m.InUse(p);
            if (m.PrevInUse(p) == prevFree && p != start)
                Fail($"chunk {Ptmalloc.Hex(p)}: P bit disagrees with the previous chunk's state");
            if (isFree)
            {
                if (prevFree)
                    Fail($"two adjacent free chunks at {Ptmalloc.Hex(p)}");
                if (!binned.Contains(p))
                    Fail($"free chunk {Ptmalloc.Hex(p)} is in no bin");
                free++;
            }
            prevFree = isFree;
            p += size;
            if (end != 0 && p > end)
                Fail($"chunk walk overshoots top at {Ptmalloc.Hex(p)}");
            if (guard > 50_000_000)
                Fail("chunk walk does not end");
        }
        if (prevFree)
            Fail("free chunk borders top");
        return free;
    }

    private static void ValidateTcache(MallocState s, Tcache tc)
    {
        var m = s.M;
        for (int i = 0; i < Tcache.MaxBins; i++)
        {
            int n = 0;
            for (ulong e = tc.Entries[i]; e != 0; e = m.ReadProtected(e))
            {
                if (++n > tc.Counts[i])
                    Fail($"tcache bin {i} longer than its count {tc.Counts[i]}");
                ulong p = Chunk.FromMem(e);
                if (BinIndex.TcacheIndex(m.ChunkSize(p)) != (ulong)i)
                    Fail($"tcache bin {i} holds size {Ptmalloc.Hex(m.ChunkSize(p))}");
                if (m.Read(e + 8) != MallocState.TcacheKey)
                    Fail($"tcache entry {Ptmalloc.Hex(e)} lacks the key");
                if (!m.InUse(p))
                    Fail($"tcache chunk {Ptmalloc.Hex(p)} not marked in use");
            }
            if (n != tc.Counts[i])
                Fail($"tcache bin {i}: count {tc.Counts[i]} but {n} entries");
        }
    }
}
