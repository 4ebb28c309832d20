using System.Runtime.CompilerServices;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Chunks;
using PtReplay.Allocator.Memory;

namespace PtReplay.Allocator.Memalign;

/// <summary>
/// _int_memalign: allocates nb + alignment + MINSIZE (through _int_malloc, never tcache), moves to the first
/// aligned spot leaving a leader of at least MINSIZE (freed; for mmapped chunks only the offset grows),
/// and frees a trailing remainder larger than MINSIZE.
/// </summary>
internal sealed class IntMemalign
{
    private readonly MallocState _s;
    private readonly SimulatedMemory _m;

    public IntMemalign(MallocState s)
    {
        _s = s;
        _m = s.M;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Memalign(Arena? av, ulong alignment, ulong bytes)
    {
        ulong nb = Chunk.CheckedRequestToSize(bytes);
        if (nb == 0 || alignment > long.MaxValue)
            return 0;
        ulong m = _s.Malloc.Malloc(av, nb + alignment + Chunk.MinSize);
        if (m == 0)
            return 0;
        ulong p = Chunk.FromMem(m);
        if (m % alignment != 0)
        {
            ulong brk = Chunk.FromMem((m + alignment - 1) & (0UL - alignment));
            if (brk - p < Chunk.MinSize)
                brk += alignment;
            ulong newp = brk;
            ulong leadsize = brk - p;
            ulong newsize = _m.ChunkSize(p) - leadsize;
            if (_m.IsMmappedChunk(p))
            {
                _m.SetPrevSize(newp, _m.PrevSize(p) + leadsize);
                _m.SetHead(newp, newsize | Chunk.IsMmapped);
                return Chunk.ToMem(newp);
            }
            ulong flag = av!.ArenaFlag;
            _m.SetHead(newp, newsize | Chunk.PrevInuse | flag);
            _m.SetInUseBitAtOffset(newp, newsize);
            _m.SetHeadSize(p, leadsize | flag);
            _s.Free.Free(av, p, true);
            p = newp;
        }
        if (!_m.IsMmappedChunk(p))
        {
            ulong size = _m.ChunkSize(p);
            if (size > nb + Chunk.MinSize)
            {
                ulong remainder = p + nb;
                _m.SetHead(remainder, (size - nb) | Chunk.PrevInuse | av!.ArenaFlag);
                _m.SetHeadSize(p, nb);
                _s.Free.Free(av, remainder, true);
            }
        }
        return Chunk.ToMem(p);
    }
}
