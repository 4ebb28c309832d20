using System.Runtime.CompilerServices;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Chunks;
using PtReplay.Allocator.Memory;

namespace PtReplay.Allocator.Realloc;

/// <summary>
/// _int_realloc for heap chunks: shrink or keep in place (splitting off and freeing a remainder of at least
/// MINSIZE), grow into top, grow into a free next chunk, or allocate-copy-free (never from tcache; the
/// new chunk may turn out to be the next chunk, which is then merged in place).
/// mremap_chunk handles mmapped chunks: the mapping is resized (moved if needed) to page-round(nb + 8 + offset).
/// </summary>
internal sealed class IntRealloc
{
    private readonly MallocState _s;
    private readonly SimulatedMemory _m;

    public IntRealloc(MallocState s)
    {
        _s = s;
        _m = s.M;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Realloc(Arena av, ulong oldp, ulong oldsize, ulong nb)
    {
        if (_m.SizeNoMask(oldp) <= Chunk.HeaderSize || oldsize >= av.SystemMem)
            MallocState.Fail("realloc(): invalid old size");
        ulong next = oldp + oldsize;
        ulong nextRaw = _m.SizeNoMask(next);
        ulong nextsize = nextRaw & ~Chunk.SizeBits;
        if (nextRaw <= Chunk.HeaderSize || nextsize >= av.SystemMem)
            MallocState.Fail("realloc(): invalid next size");

        ulong newp, newsize;
        if (oldsize >= nb)
        {
            newp = oldp;
            newsize = oldsize;
        }
        else if (next == av.Top && (newsize = oldsize + nextsize) >= nb + Chunk.MinSize)
        {
            _m.SetHeadSize(oldp, nb | av.ArenaFlag);
            av.Top = oldp + nb;
            _m.SetHead(av.Top, (newsize - nb) | Chunk.PrevInuse);
            return Chunk.ToMem(oldp);
        }
        else if (next != av.Top && !_m.InUse(next) && (newsize = oldsize + nextsize) >= nb)
        {
            newp = oldp;
            _s.Free.Unlink(av, next);
        }
        else
        {
            ulong newmem = _s.Malloc.Malloc(av, nb - Chunk.AlignMask);
            if (newmem == 0)
                return 0;
            newp = Chunk.FromMem(newmem);
            newsize = _m.ChunkSize(newp);
            if (newp == next)
            {
                newsize += oldsize;
                newp = oldp;
            }
            else
            {
                CopyUserData(oldp, newmem);
                _s.Free.Free(av, oldp, true);
                return newmem;
            }
        }

        ulong remainderSize = newsize - nb;
        if (remainderSize < Chunk.MinSize)
        {
            _m.SetHeadSize(newp, newsize | av.ArenaFlag);
            _m.SetInUseBitAtOffset(newp, newsize);
        }
        else
        {
            ulong remainder = newp + nb;
            _m.SetHeadSize(newp, nb | av.ArenaFlag);
            _m.SetHead(remainder, remainderSize | Chunk.PrevInuse | av.ArenaFlag);
            _m.SetInUseBitAtOffset(remainder, remainderSize);
            _s.Free.Free(av, remainder, true);
        }
        return Chunk.ToMem(newp);
    }

    /// <summary>
    /// memcpy of the old block into the new one. Only residency changes: the copy reads every source page
    /// (an untouched anonymous page then maps the zero page, which mincore and RSS count) and writes the destination.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void CopyUserData(ulong oldp, ulong newmem)
    {
        ulong sz = _m.ChunkSize(oldp) - Chunk.SizeSz;
        _s.Space.Touch(Chunk.ToMem(oldp), sz);
        _s.Space.Touch(newmem, sz);
    }

    /// <summary>mremap_chunk: returns the (possibly moved) chunk, or 0 when mremap fails.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong MremapChunk(ulong p, ulong newSize)
    {
        ulong pagesize = _s.PageSize;
        ulong offset = _m.PrevSize(p);
        ulong size = _m.ChunkSize(p);
        ulong block = p - offset;
        ulong mem = Chunk.ToMem(p);
        ulong total = offset + size;
        ulong low = mem & (pagesize - 1);
        if (((block | total) & (pagesize - 1)) != 0 || (low & (low - 1)) != 0)
            MallocState.Fail("mremap_chunk(): invalid pointer");
        newSize = (newSize + offset + Chunk.SizeSz + pagesize - 1) & ~(pagesize - 1);
        if (total == newSize)
            return p;
        ulong cp = _s.Space.Mremap(block, total, newSize);
        if (cp == AddressSpace.Failed)
            return 0;
        p = cp + offset;
        _m.SetHead(p, (newSize - offset) | Chunk.IsMmapped);
        var mp = _s.Mp;
        mp.MmappedMem = mp.MmappedMem + newSize - size - offset;
        if (mp.MmappedMem > mp.MaxMmappedMem)
            mp.MaxMmappedMem = mp.MmappedMem;
        return p;
    }
}
