using System.Runtime.CompilerServices;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;
using PtReplay.Allocator.Memory;

namespace PtReplay.Allocator.Free;

/// <summary>
/// malloc_consolidate: empties every fastbin (bin 0 first, each list from its head), coalescing each chunk
/// with free neighbours and pushing the result to the front of unsorted, or into top.
/// </summary>
internal sealed class Consolidator
{
    private readonly MallocState _s;
    private readonly SimulatedMemory _m;

    public Consolidator(MallocState s)
    {
        _s = s;
        _m = s.M;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Consolidate(Arena av)
    {
        av.HaveFastchunks = false;
        ulong unsortedBin = av.Unsorted;
        // Each list's first chunk is read at once below: fetched together up front (a hint, nothing simulated is read).
        for (int fb = 0; fb < BinIndex.NFastBins; fb++)
            _m.Prefetch(av.FastbinsY[fb] + Chunk.SizeSz);
        for (int fb = 0; fb < BinIndex.NFastBins; fb++)
        {
            ulong p = av.FastbinsY[fb];
            av.FastbinsY[fb] = 0;
            while (p != 0)
            {
                if (Chunk.Misaligned(p))
                    MallocState.Fail("malloc_consolidate(): unaligned fastbin chunk detected");
                if (BinIndex.FastbinIndex(_m.ChunkSize(p)) != fb)
                    MallocState.Fail("malloc_consolidate(): invalid chunk size");
                ulong nextp = _m.ReadProtected(p + 16);
                // The next chunk of the list is the next iteration's first read: fetched while this one is coalesced.
                _m.Prefetch(nextp + Chunk.SizeSz);
                ulong size = _m.ChunkSize(p);
                ulong nextchunk = p + size;
                ulong nextsize = _m.ChunkSize(nextchunk);
                if (!_m.PrevInUse(p))
                {
                    ulong prevsize = _m.PrevSize(p);
                    size += prevsize;
                    p -= prevsize;
                    if (_m.ChunkSize(p) != prevsize)
                        MallocState.Fail("corrupted size vs. prev_size in fastbins");
                    _s.Free.Unlink(av, p);
                }
                if (nextchunk != av.Top)
                {
                    if (!_m.InUseBitAtOffset(nextchunk, nextsize))
                    {
                        size += nextsize;
                        _s.Free.Unlink(av, nextchunk);
                    }
                    else
                    {
                        _m.ClearInUseBitAtOffset(nextchunk, 0);
                    }
                    ulong firstUnsorted = _m.Fd(unsortedBin);
                    _m.SetFd(unsortedBin, p);
                    _m.SetBk(firstUnsorted, p);
                    if (!BinIndex.InSmallbinRange(size))
                    {
                        _m.SetFdNextSize(p, 0);
                        _m.SetBkNextSize(p, 0);
                    }
                    _m.SetHead(p, size | Chunk.PrevInuse);
                    _m.SetBk(p, unsortedBin);
                    _m.SetFd(p, firstUnsorted);
                    _m.SetFoot(p, size);
                }
                else
                {
                    size += nextsize;
                    _m.SetHead(p, size | Chunk.PrevInuse);
                    av.Top = p;
                }
                p = nextp;
            }
        }
    }
}
