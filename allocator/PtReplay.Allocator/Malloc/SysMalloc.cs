using System.Runtime.CompilerServices;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Chunks;
using PtReplay.Allocator.Memory;

namespace PtReplay.Allocator.Malloc;

/// <summary>
/// sysmalloc: gets memory from the system when the top chunk is too small.
/// Requests at or above the mmap threshold (while fewer than mmap_max mappings exist) get their own
/// mapping: size = page-round(nb + 8), prev_size holds the front offset, the M bit is set.
/// Otherwise the main arena grows the break by nb + top_pad + MINSIZE minus the current top, page-rounded
/// (the first time it also aligns the start and rounds the end to a page with a second sbrk);
/// a non-main arena grows its heap or chains a new heap, fencing off the old top.
/// </summary>
internal sealed class SysMalloc
{
    /// <summary>MMAP_AS_MORECORE_SIZE: smallest mmap used when the break cannot grow.</summary>
    private const ulong MmapAsMorecoreSize = 1024 * 1024;

    private readonly MallocState _s;
    private readonly SimulatedMemory _m;

    public SysMalloc(MallocState s)
    {
        _s = s;
        _m = s.M;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Allocate(ulong nb, Arena? av)
    {
        var mp = _s.Mp;
        ulong pagesize = _s.PageSize;
        bool triedMmap = false;
        if (av is null || (nb >= mp.MmapThreshold && mp.NMmaps < mp.MmapsMax))
        {
            ulong mm = MmapChunk(nb);
            if (mm != 0)
                return mm;
            triedMmap = true;
        }
        if (av is null)
            return 0;

        ulong oldTop = av.Top;
        ulong oldSize = _m.ChunkSize(oldTop);
        ulong oldEnd = oldTop + oldSize;

        if (!av.IsMain)
        {
            var oldHeap = _s.HeapForPtr(oldTop);
            ulong oldHeapSize = oldHeap.Size;
            long diff = (long)(Chunk.MinSize + nb - oldSize);
            if (diff > 0 && _s.HeapManager.Grow(oldHeap, diff) == 0)
            {
                av.SystemMem += oldHeap.Size - oldHeapSize;
                _m.SetHead(oldTop, (oldHeap.Base + oldHeap.Size - oldTop) | Chunk.PrevInuse);
            }
            else if (_s.HeapManager.NewHeap(nb + Chunk.MinSize + HeapInfo.HeaderSize, mp.TopPad) is { } heap)
            {
                heap.Arena = av;
                heap.Prev = oldHeap;
                heap.Index = av.HeapCount++;
                av.LastHeap = heap;
                _s.HeapManager.WriteHeader(heap);
                av.SystemMem += heap.Size;
                av.Top = heap.Base + HeapInfo.HeaderSize;
                _m.SetHead(av.Top, (heap.Size - HeapInfo.HeaderSize) | Chunk.PrevInuse);
                oldSize = (oldSize - Chunk.MinSize) & ~Chunk.AlignMask;
                _m.SetHead(oldTop + oldSize + Chunk.HeaderSize, Chunk.PrevInuse);
                if (oldSize >= Chunk.MinSize)
                {
                    _m.SetHead(oldTop + oldSize, Chunk.HeaderSize | Chunk.PrevInuse);
                    _m.SetFoot(oldTop + oldSize, Chunk.HeaderSize);
                    _m.SetHead(oldTop, oldSize | Chunk.PrevInuse | Chunk.NonMainArena);
                    _s.Free.Free(av, oldTop, true);
                }
                else
                {
                    _m.SetHead(oldTop, (oldSize + Chunk.HeaderSize) | Chunk.PrevInuse);
                    _m.SetFoot(oldTop, oldSize + Chunk.HeaderSize);
                }
            }
            else if (!triedMmap)
            {
                ulong mm = MmapChunk(nb);
                if (mm != 0)
                    return mm;
            }
        }
        else
        {
            GrowMainHeap(av, nb, oldTop, oldSize, oldEnd);
        }

        if (av.SystemMem > av.MaxSystemMem)
            av.MaxSystemMem = av.SystemMem;

        ulong p = av.Top;
        ulong size = _m.ChunkSize(p);
        if (size >= nb + Chunk.MinSize)
        {
            ulong remainder = p + nb;
            av.Top = remainder;
            _m.SetHead(p, nb | Chunk.PrevInuse | av.ArenaFlag);
            _m.SetHead(remainder, (size - nb) | Chunk.PrevInuse);
            return Chunk.ToMem(p);
        }
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void GrowMainHeap(Arena av, ulong nb, ulong oldTop, ulong oldSize, ulong oldEnd)
    {
        var mp = _s.Mp;
        var space = _s.Space;
        ulong pagesize = _s.PageSize;
        long size = (long)(nb + mp.TopPad + Chunk.MinSize);
        if (av.Contiguous)
            size -= (long)oldSize;
        if (mp.ThpPageSize != 0)
        {
            // hugetlb=1: the new break lands on a huge-page boundary
            ulong thp = mp.ThpPageSize;
            ulong newTop = (space.Brk + (ulong)size + thp - 1) & ~(thp - 1);
            size = (long)(newTop - space.Brk);
        }
        else
        {
            size = (long)(((ulong)size + pagesize - 1) & ~(pagesize - 1));
        }
        ulong brk = size > 0 ? space.Sbrk(size) : AddressSpace.Failed;
        ulong sndBrk = AddressSpace.Failed;
        if (brk == AddressSpace.Failed)
        {
            // MORECORE failed: mmap as a backup (sysmalloc_mmap_fallback), at least 1 MiB; from now on the
            // main arena is non-contiguous.
            long fallback = size;
            if (av.Contiguous)
                fallback = (long)(((ulong)fallback + oldSize + pagesize - 1) & ~(pagesize - 1));
            if ((ulong)fallback < MmapAsMorecoreSize)
                fallback = (long)MmapAsMorecoreSize;
            if ((ulong)fallback <= nb)
                return;
            ulong mbrk = space.Mmap((ulong)fallback);
            if (mbrk == AddressSpace.Failed)
                return;
            av.Contiguous = false;
            size = fallback;
            brk = mbrk;
            sndBrk = brk + (ulong)size;
        }
        if (mp.SbrkBase == 0)
            mp.SbrkBase = brk;
        av.SystemMem += (ulong)size;

        if (brk == oldEnd && sndBrk == AddressSpace.Failed)
        {
            _m.SetHead(oldTop, ((ulong)size + oldSize) | Chunk.PrevInuse);
            return;
        }
        if (av.Contiguous && oldSize != 0 && brk < oldEnd)
            MallocState.Fail("break adjusted to free malloc space");

        ulong correction = 0;
        ulong alignedBrk = brk;
        if (av.Contiguous)
        {
            if (oldSize != 0)
                av.SystemMem += brk - oldEnd;
            ulong frontMisalign = Chunk.ToMem(brk) & Chunk.AlignMask;
            if (frontMisalign > 0)
            {
                correction = Chunk.Alignment - frontMisalign;
                alignedBrk += correction;
            }
            correction += oldSize;
            ulong endMisalign = brk + (ulong)size + correction;
            correction += ((endMisalign + pagesize - 1) & ~(pagesize - 1)) - endMisalign;
            sndBrk = space.Sbrk((long)correction);
            if (sndBrk == AddressSpace.Failed)
            {
                correction = 0;
                sndBrk = space.Sbrk(0);
            }
        }
        else if (sndBrk == AddressSpace.Failed)
        {
            sndBrk = space.Sbrk(0);
        }

        av.Top = alignedBrk;
        _m.SetHead(av.Top, (sndBrk - alignedBrk + correction) | Chunk.PrevInuse);
        av.SystemMem += correction;
        if (oldSize != 0)
        {
            oldSize = (oldSize - 2 * Chunk.HeaderSize) & ~Chunk.AlignMask;
            _m.SetHead(oldTop, oldSize | Chunk.PrevInuse);
            _m.SetHead(oldTop + oldSize, Chunk.HeaderSize | Chunk.PrevInuse);
            _m.SetHead(oldTop + oldSize + Chunk.HeaderSize, Chunk.HeaderSize | Chunk.PrevInuse);
            if (oldSize >= Chunk.MinSize)
                _s.Free.Free(av, oldTop, true);
        }
    }

    /// <summary>sysmalloc_mmap: a chunk in its own mapping; returns the user pointer or 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong MmapChunk(ulong nb)
    {
        ulong pagesize = _s.PageSize;
        ulong size = (nb + Chunk.SizeSz + pagesize - 1) & ~(pagesize - 1);
        if (size <= nb)
            return 0;
        ulong mm = _s.Space.Mmap(size);
        if (mm == AddressSpace.Failed)
            return 0;
        _m.SetPrevSize(mm, 0);
        _m.SetHead(mm, size | Chunk.IsMmapped);
        var mp = _s.Mp;
        mp.NMmaps++;
        if (mp.NMmaps > mp.MaxNMmaps)
            mp.MaxNMmaps = mp.NMmaps;
        mp.MmappedMem += size;
        if (mp.MmappedMem > mp.MaxMmappedMem)
            mp.MaxMmappedMem = mp.MmappedMem;
        return Chunk.ToMem(mm);
    }
}
