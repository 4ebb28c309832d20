using System.Runtime.CompilerServices;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;
using PtReplay.Allocator.Memory;

namespace PtReplay.Allocator.Free;

/// <summary>
/// Giving memory back: systrim (lower the break, keeping top_pad and whole pages), heap_trim (drop whole
/// empty heaps of a non-main arena, then shrink the last one), munmap_chunk, and malloc_trim's mtrim
/// (madvise the whole free pages inside binned chunks, then systrim).
/// </summary>
internal sealed class Trimmer
{
    private readonly MallocState _s;
    private readonly SimulatedMemory _m;

    public Trimmer(MallocState s)
    {
        _s = s;
        _m = s.M;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Systrim(ulong pad, Arena av)
    {
        ulong pagesize = _s.PageSize;
        long topSize = (long)_m.ChunkSize(av.Top);
        long topArea = topSize - (long)Chunk.MinSize - 1;
        if ((ulong)topArea <= pad)
            return 0;
        ulong unit = _s.Mp.ThpPageSize != 0 ? _s.Mp.ThpPageSize : pagesize;
        ulong extra = ((ulong)topArea - pad) & ~(unit - 1);
        if (extra == 0)
            return 0;
        var space = _s.Space;
        ulong currentBrk = space.Brk;
        if (currentBrk != av.Top + (ulong)topSize)
            return 0;
        space.Sbrk(-(long)extra);
        ulong newBrk = space.Brk;
        ulong released = currentBrk - newBrk;
        if (released == 0)
            return 0;
        av.SystemMem -= released;
        _m.SetHead(av.Top, ((ulong)topSize - released) | Chunk.PrevInuse);
        return 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int HeapTrim(HeapInfo heap, ulong pad)
    {
        var av = heap.Arena;
        ulong topChunk = av.Top;
        ulong pagesize = _s.PageSize;
        while (topChunk == heap.Base + HeapInfo.HeaderSize)
        {
            var prevHeap = heap.Prev;
            if (prevHeap is null)
                break;
            ulong prevSize = prevHeap.Size - (Chunk.MinSize - 2 * Chunk.SizeSz);
            ulong p = prevHeap.Base + prevSize;
            ulong misalign = p & Chunk.AlignMask;
            p = prevHeap.Base + prevSize - misalign;
            p -= _m.PrevSize(p);
            ulong newSize = _m.ChunkSize(p) + (Chunk.MinSize - 2 * Chunk.SizeSz) + misalign;
            if (!_m.PrevInUse(p))
                newSize += _m.PrevSize(p);
            if (newSize + (HeapInfo.MaxSize - prevHeap.Size) < pad + Chunk.MinSize + pagesize)
                break;
            av.SystemMem -= heap.Size;
            if (heap.Base + HeapInfo.MaxSize == _s.AlignedHeapArea)
                _s.AlignedHeapArea = 0;
            _s.HeapManager.Delete(heap);
            heap = prevHeap;
            av.LastHeap = heap;
            if (!_m.PrevInUse(p))
            {
                p -= _m.PrevSize(p);
                _s.Free.Unlink(av, p);
            }
            av.Top = topChunk = p;
            _m.SetHead(topChunk, newSize | Chunk.PrevInuse);
        }

        ulong topSize = _m.ChunkSize(topChunk);
        if (topSize < _s.Mp.TrimThreshold)
            return 0;
        long topArea = (long)topSize - (long)Chunk.MinSize - 1;
        if (topArea < 0 || (ulong)topArea <= pad)
            return 0;
        ulong extra = ((ulong)topArea - pad) & ~(pagesize - 1);
        if (extra == 0)
            return 0;
        if (_s.HeapManager.Shrink(heap, extra) != 0)
            return 0;
        av.SystemMem -= extra;
        _m.SetHead(topChunk, (topSize - extra) | Chunk.PrevInuse);
        return 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MunmapChunk(ulong p)
    {
        ulong pagesize = _s.PageSize;
        ulong size = _m.ChunkSize(p);
        ulong mem = Chunk.ToMem(p);
        ulong block = p - _m.PrevSize(p);
        ulong total = _m.PrevSize(p) + size;
        ulong low = mem & (pagesize - 1);
        if (((block | total) & (pagesize - 1)) != 0 || (low & (low - 1)) != 0)
            MallocState.Fail("munmap_chunk(): invalid pointer");
        _s.Mp.NMmaps--;
        _s.Mp.MmappedMem -= total;
        _s.Space.Munmap(block, total);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Mtrim(Arena av, ulong pad)
    {
        _s.Consolidator.Consolidate(av);
        ulong ps = _s.PageSize;
        int psindex = BinIndex.Of(ps);
        ulong psm1 = ps - 1;
        int result = 0;
        for (int i = 1; i < BinIndex.NBins; ++i)
        {
            if (i != 1 && i < psindex)
                continue;
            ulong bin = av.BinAt(i);
            for (ulong p = _m.Bk(bin); p != bin; p = _m.Bk(p))
            {
                ulong size = _m.ChunkSize(p);
                if (size > psm1 + 48)
                {
                    ulong palignedMem = (p + 48 + psm1) & ~psm1;
                    size -= palignedMem - p;
                    if (size > psm1)
                    {
                        _s.Space.MadviseDontNeed(palignedMem, size & ~psm1);
                        result = 1;
                    }
                }
            }
        }
        return result | (av.IsMain ? Systrim(pad, av) : 0);
    }
}
