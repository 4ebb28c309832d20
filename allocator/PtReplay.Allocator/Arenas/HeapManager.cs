using System.Runtime.CompilerServices;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Arenas;

/// <summary>
/// new_heap / grow_heap / shrink_heap / heap deletion for non-main arenas. A new heap reserves a
/// 64 MiB-aligned 64 MiB range (mapping 128 MiB and unmapping the misaligned ends, or reusing the
/// remembered aligned_heap_area), of which the first page-rounded size bytes are read/write.
/// </summary>
internal sealed class HeapManager
{
    private readonly MallocState _s;

    public HeapManager(MallocState s) => _s = s;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public HeapInfo? NewHeap(ulong size, ulong topPad)
    {
        const ulong maxSize = HeapInfo.MaxSize;
        ulong pagesize = _s.PageSize;
        if (size + topPad < HeapInfo.MinSize)
            size = HeapInfo.MinSize;
        else if (size + topPad <= maxSize)
            size += topPad;
        else if (size > maxSize)
            return null;
        else
            size = maxSize;
        size = (size + pagesize - 1) & ~(pagesize - 1);

        var space = _s.Space;
        ulong p2 = 0;
        if (_s.AlignedHeapArea != 0)
        {
            ulong hint = _s.AlignedHeapArea;
            _s.AlignedHeapArea = 0;
            ulong got = space.Mmap(maxSize, hint, noReserve: true);
            if (got != Memory.AddressSpace.Failed)
            {
                if ((got & (maxSize - 1)) != 0)
                    space.Munmap(got, maxSize);
                else
                    p2 = got;
            }
        }
        if (p2 == 0)
        {
            ulong p1 = space.Mmap(maxSize << 1, noReserve: true);
            if (p1 != Memory.AddressSpace.Failed)
            {
                p2 = (p1 + (maxSize - 1)) & ~(maxSize - 1);
                ulong ul = p2 - p1;
                if (ul != 0)
                    space.Munmap(p1, ul);
                else
                    _s.AlignedHeapArea = p2 + maxSize;
                space.Munmap(p2 + maxSize, maxSize - ul);
            }
            else
            {
                p2 = space.Mmap(maxSize, noReserve: true);
                if (p2 == Memory.AddressSpace.Failed)
                    return null;
                if ((p2 & (maxSize - 1)) != 0)
                {
                    space.Munmap(p2, maxSize);
                    return null;
                }
            }
        }
        var h = new HeapInfo { Base = p2, Size = size, MprotectSize = size };
        _s.Heaps[p2] = h;
        return h;
    }

    /// <summary>Writes heap_info's fields into the heap's first words.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void WriteHeader(HeapInfo h)
    {
        var m = _s.M;
        m.Write(h.Base, h.Arena.StateAddress);
        m.Write(h.Base + 8, h.Prev?.Base ?? 0);
        m.Write(h.Base + 16, h.Size);
        m.Write(h.Base + 24, h.MprotectSize);
        m.Write(h.Base + 32, _s.PageSize);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Grow(HeapInfo h, long diff)
    {
        ulong pagesize = _s.PageSize;
        diff = (long)(((ulong)diff + pagesize - 1) & ~(pagesize - 1));
        long newSize = (long)h.Size + diff;
        if ((ulong)newSize > HeapInfo.MaxSize)
            return -1;
        if ((ulong)newSize > h.MprotectSize)
            h.MprotectSize = (ulong)newSize;
        h.Size = (ulong)newSize;
        WriteHeader(h);
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Shrink(HeapInfo h, ulong diff)
    {
        long newSize = (long)h.Size - (long)diff;
        if (newSize < (long)HeapInfo.HeaderSize)
            return -1;
        _s.Space.MadviseDontNeed(h.Base + (ulong)newSize, diff);
        h.Size = (ulong)newSize;
        WriteHeader(h);
        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Delete(HeapInfo h)
    {
        _s.Heaps.Remove(h.Base);
        _s.Space.Munmap(h.Base, HeapInfo.MaxSize);
        h.Arena.HeapCount--;
    }

    /// <summary>Read/write bytes of all live heaps (mprotect_size: shrinking madvises, it does not mprotect back).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong TotalMprotectBytes()
    {
        ulong total = 0;
        foreach (var h in _s.Heaps.Values)
            total += h.MprotectSize;
        return total;
    }

    /// <summary>Bytes of all live heaps (size in use).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong TotalHeapBytes()
    {
        ulong total = 0;
        foreach (var h in _s.Heaps.Values)
            total += h.Size;
        return total;
    }
}
