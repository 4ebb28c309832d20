using System.Runtime.CompilerServices;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;
using PtReplay.Allocator.Memory;

namespace PtReplay.Allocator.Free;

/// <summary>
/// _int_free: returns a chunk to its arena. Order: sanity checks; the thread's tcache if that bin has room
/// (with the tcache-key double-free check); a fastbin for sizes up to global_max_fast (LIFO, safe-linked,
/// "fasttop" double-free check); otherwise coalesce with free neighbours and put the result at the front of
/// the unsorted bin, or merge it into top. A merged size of 64 KiB or more consolidates fastbins and
/// trims (systrim for the main arena when top exceeds trim_threshold, heap_trim otherwise).
/// </summary>
internal sealed class IntFree
{
    /// <summary>FASTBIN_CONSOLIDATION_THRESHOLD.</summary>
    public const ulong FastbinConsolidationThreshold = 65536;

    private readonly MallocState _s;
    private readonly SimulatedMemory _m;

    public IntFree(MallocState s)
    {
        _s = s;
        _m = s.M;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Free(Arena av, ulong p, bool haveLock)
    {
        ulong size = _m.ChunkSize(p);
        if (p > 0UL - size || Chunk.Misaligned(p))
            MallocState.Fail("free(): invalid pointer");
        if (size < Chunk.MinSize || (size & Chunk.AlignMask) != 0)
            MallocState.Fail("free(): invalid size");

        var mp = _s.Mp;
        var tc = _s.Current.Tcache;
        ulong tcIdx = BinIndex.TcacheIndex(size);
        if (tc is not null && tcIdx < mp.TcacheBins)
        {
            ulong e = Chunk.ToMem(p);
            if (_m.Read(e + 8) == MallocState.TcacheKey)
                CheckTcacheDoubleFree(tc, tcIdx, e);
            if (tc.Counts[tcIdx] < mp.TcacheCount)
            {
                _s.Tcaches.Put(tc, p, tcIdx);
                return;
            }
        }

        if (size <= mp.GlobalMaxFast)
        {
            ulong nextRaw = _m.SizeNoMask(p + size);
            if (nextRaw <= Chunk.HeaderSize || (nextRaw & ~Chunk.SizeBits) >= av.SystemMem)
                MallocState.Fail("free(): invalid next size (fast)");
            if (mp.PerturbByte != 0)
                _s.Space.Touch(Chunk.ToMem(p), size - Chunk.HeaderSize); // free_perturb
            av.HaveFastchunks = true;
            int idx = BinIndex.FastbinIndex(size);
            ulong old = av.FastbinsY[idx];
            if (old == p)
                MallocState.Fail("double free or corruption (fasttop)");
            _m.SetFd(p, Chunk.Protect(p + 16, old));
            av.FastbinsY[idx] = p;
            if (haveLock && old != 0 && BinIndex.FastbinIndex(_m.ChunkSize(old)) != idx)
                MallocState.Fail("invalid fastbin entry (free)");
            return;
        }

        if (_m.IsMmappedChunk(p))
        {
            _s.Trimmer.MunmapChunk(p);
            return;
        }

        FreeNormal(av, p, size);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void CheckTcacheDoubleFree(Tcache tc, ulong tcIdx, ulong e)
    {
        ulong cnt = 0;
        for (ulong tmp = tc.Entries[tcIdx]; tmp != 0; tmp = _m.ReadProtected(tmp), ++cnt)
        {
            if (cnt >= _s.Mp.TcacheCount)
                MallocState.Fail("free(): too many chunks detected in tcache");
            if (Chunk.Misaligned(tmp))
                MallocState.Fail("free(): unaligned chunk detected in tcache 2");
            if (tmp == e)
                MallocState.Fail("free(): double free detected in tcache 2");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void FreeNormal(Arena av, ulong p, ulong size)
    {
        ulong nextchunk = p + size;
        if (p == av.Top)
            MallocState.Fail("double free or corruption (top)");
        if (av.Contiguous && nextchunk >= av.Top + _m.ChunkSize(av.Top))
            MallocState.Fail("double free or corruption (out)");
        if (!_m.PrevInUse(nextchunk))
            MallocState.Fail("double free or corruption (!prev)");
        ulong nextRaw = _m.SizeNoMask(nextchunk);
        ulong nextsize = nextRaw & ~Chunk.SizeBits;
        if (nextRaw <= Chunk.HeaderSize || nextsize >= av.SystemMem)
            MallocState.Fail("free(): invalid next size (normal)");
        if (_s.Mp.PerturbByte != 0)
            _s.Space.Touch(Chunk.ToMem(p), size - Chunk.HeaderSize); // free_perturb

        if (!_m.PrevInUse(p))
        {
            ulong prevsize = _m.PrevSize(p);
            size += prevsize;
            p -= prevsize;
            if (_m.ChunkSize(p) != prevsize)
                MallocState.Fail("corrupted size vs. prev_size while consolidating");
            Unlink(av, p);
        }

        if (nextchunk != av.Top)
        {
            bool nextInUse = _m.InUseBitAtOffset(nextchunk, nextsize);
            if (!nextInUse)
            {
                Unlink(av, nextchunk);
                size += nextsize;
            }
            else
            {
                _m.ClearInUseBitAtOffset(nextchunk, 0);
            }
            ulong bck = av.Unsorted;
            ulong fwd = _m.Fd(bck);
            if (_m.Bk(fwd) != bck)
                MallocState.Fail("free(): corrupted unsorted chunks");
            _m.SetFd(p, fwd);
            _m.SetBk(p, bck);
            if (!BinIndex.InSmallbinRange(size))
            {
                _m.SetFdNextSize(p, 0);
                _m.SetBkNextSize(p, 0);
            }
            _m.SetFd(bck, p);
            _m.SetBk(fwd, p);
            _m.SetHead(p, size | Chunk.PrevInuse);
            _m.SetFoot(p, size);
        }
        else
        {
            size += nextsize;
            _m.SetHead(p, size | Chunk.PrevInuse);
            av.Top = p;
        }

        if (size >= FastbinConsolidationThreshold)
        {
            if (av.HaveFastchunks)
                _s.Consolidator.Consolidate(av);
            if (av.IsMain)
            {
                if (_m.ChunkSize(av.Top) >= _s.Mp.TrimThreshold)
                    _s.Trimmer.Systrim(_s.Mp.TopPad, av);
            }
            else
            {
                _s.Trimmer.HeapTrim(_s.HeapForPtr(av.Top), _s.Mp.TopPad);
            }
        }
    }

    /// <summary>unlink_chunk: takes a free chunk off its (small, large or unsorted) bin list (the arena is implied by the links).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Unlink(Arena av, ulong p)
    {
        ulong size = _m.ChunkSize(p);
        if (size != _m.PrevSize(p + size))
            MallocState.Fail("corrupted size vs. prev_size");
        ulong fd = _m.Fd(p), bk = _m.Bk(p);
        if (_m.Bk(fd) != p || _m.Fd(bk) != p)
            MallocState.Fail("corrupted double-linked list");
        _m.SetBk(fd, bk);
        _m.SetFd(bk, fd);
        if (!BinIndex.InSmallbinRange(_m.SizeNoMask(p)) && _m.FdNextSize(p) != 0)
        {
            ulong fdn = _m.FdNextSize(p), bkn = _m.BkNextSize(p);
            if (_m.BkNextSize(fdn) != p || _m.FdNextSize(bkn) != p)
                MallocState.Fail("corrupted double-linked list (not small)");
            if (_m.FdNextSize(fd) == 0)
            {
                if (fdn == p)
                {
                    _m.SetFdNextSize(fd, fd);
                    _m.SetBkNextSize(fd, fd);
                }
                else
                {
                    _m.SetFdNextSize(fd, fdn);
                    _m.SetBkNextSize(fd, bkn);
                    _m.SetBkNextSize(fdn, fd);
                    _m.SetFdNextSize(bkn, fd);
                }
            }
            else
            {
                _m.SetBkNextSize(fdn, bkn);
                _m.SetFdNextSize(bkn, fdn);
            }
        }
        _ = av;
    }
}
