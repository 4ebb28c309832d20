using System.Runtime.CompilerServices;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;
using PtReplay.Allocator.Memory;

namespace PtReplay.Allocator.Malloc;

/// <summary>
/// _int_malloc: serves one request from an arena. Order of attempts (each returns when it succeeds):
/// fastbin of the exact size (stashing the rest of that bin into tcache), small bin of the exact size
/// (stashing likewise), otherwise for large requests consolidate fastbins first; then the unsorted scan
/// (last-remainder split for small requests, exact fits to tcache or returned, everything else sorted into
/// its bin), the large bin of the size (best fit via the skip list), the next non-empty bin by binmap,
/// the top chunk, a late consolidation, and finally sysmalloc.
/// </summary>
internal sealed class IntMalloc
{
    private const int MaxUnsortedIterations = 10000;
    private readonly MallocState _s;
    private readonly SimulatedMemory _m;

    public IntMalloc(MallocState s)
    {
        _s = s;
        _m = s.M;
    }

    /// <summary>Set when the last result came from tcache (the unsorted scan's cached exact fits): no perturb then.</summary>
    private bool _fromTcache;

    /// <summary>Returns the user pointer, or 0 when memory is exhausted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Malloc(Arena? av, ulong bytes)
    {
        _fromTcache = false;
        ulong p = MallocCore(av, bytes);
        if (p != 0 && _s.Mp.PerturbByte != 0 && !_fromTcache)
            _s.Space.Touch(p, bytes); // alloc_perturb: memset of the request
        return p;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong MallocCore(Arena? av, ulong bytes)
    {
        ulong nb = Chunk.CheckedRequestToSize(bytes);
        if (nb == 0)
            return 0;
        if (av is null)
            return _s.Sys.Allocate(nb, null);

        var mp = _s.Mp;
        var tc = _s.Current.Tcache;
        int idx;

        if (nb <= mp.GlobalMaxFast)
        {
            idx = BinIndex.FastbinIndex(nb);
            ulong victim = av.FastbinsY[idx];
            if (victim != 0)
            {
                if (Chunk.Misaligned(victim))
                    MallocState.Fail("malloc(): unaligned fastbin chunk detected 2");
                av.FastbinsY[idx] = _m.ReadProtected(victim + 16);
                if (BinIndex.FastbinIndex(_m.ChunkSize(victim)) != idx)
                    MallocState.Fail("malloc(): memory corruption (fast)");
                ulong tcIdx = BinIndex.TcacheIndex(nb);
                if (tc is not null && tcIdx < mp.TcacheBins)
                {
                    ulong tcVictim;
                    while (tc.Counts[tcIdx] < mp.TcacheCount && (tcVictim = av.FastbinsY[idx]) != 0)
                    {
                        if (Chunk.Misaligned(tcVictim))
                            MallocState.Fail("malloc(): unaligned fastbin chunk detected 3");
                        av.FastbinsY[idx] = _m.ReadProtected(tcVictim + 16);
                        _s.Tcaches.Put(tc, tcVictim, tcIdx);
                    }
                }
                return Chunk.ToMem(victim);
            }
        }

        if (BinIndex.InSmallbinRange(nb))
        {
            idx = BinIndex.SmallbinIndex(nb);
            ulong bin = av.BinAt(idx);
            ulong victim = _m.Bk(bin);
            if (victim != bin)
            {
                ulong bck = _m.Bk(victim);
                if (_m.Fd(bck) != victim)
                    MallocState.Fail("malloc(): smallbin double linked list corrupted");
                _m.SetInUseBitAtOffset(victim, nb);
                _m.SetBk(bin, bck);
                _m.SetFd(bck, bin);
                if (!av.IsMain)
                    _m.SetNonMainArena(victim);
                ulong tcIdx = BinIndex.TcacheIndex(nb);
                if (tc is not null && tcIdx < mp.TcacheBins)
                {
                    ulong tcVictim;
                    while (tc.Counts[tcIdx] < mp.TcacheCount && (tcVictim = _m.Bk(bin)) != bin)
                    {
                        bck = _m.Bk(tcVictim);
                        _m.SetInUseBitAtOffset(tcVictim, nb);
                        if (!av.IsMain)
                            _m.SetNonMainArena(tcVictim);
                        _m.SetBk(bin, bck);
                        _m.SetFd(bck, bin);
                        _s.Tcaches.Put(tc, tcVictim, tcIdx);
                    }
                }
                return Chunk.ToMem(victim);
            }
        }
        else
        {
            idx = BinIndex.LargebinIndex(nb);
            if (av.HaveFastchunks)
                _s.Consolidator.Consolidate(av);
        }

        return MallocSlow(av, nb, idx, tc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong MallocSlow(Arena av, ulong nb, int idx, Tcache? tc)
    {
        var mp = _s.Mp;
        ulong unsorted = av.Unsorted;
        ulong tcacheNb = 0;
        ulong tcIdx = BinIndex.TcacheIndex(nb);
        if (tc is not null && tcIdx < mp.TcacheBins)
            tcacheNb = nb;
        bool returnCached = false;
        ulong tcacheUnsortedCount = 0;

        for (; ; )
        {
            int iters = 0;
            ulong victim;
            while ((victim = _m.Bk(unsorted)) != unsorted)
            {
                ulong bck = _m.Bk(victim);
                // bck is the next iteration's victim (when this one leaves the list): its header is fetched meanwhile.
                _m.Prefetch(bck + Chunk.SizeSz);
                ulong size = _m.ChunkSize(victim);
                ulong next = victim + size;
                if (size <= Chunk.HeaderSize || size > av.SystemMem)
                    MallocState.Fail("malloc(): invalid size (unsorted)");
                ulong nextRaw = _m.SizeNoMask(next);
                if (nextRaw < Chunk.HeaderSize || nextRaw > av.SystemMem)
                    MallocState.Fail("malloc(): invalid next size (unsorted)");
                if ((_m.PrevSize(next) & ~Chunk.SizeBits) != size)
                    MallocState.Fail("malloc(): mismatching next->prev_size (unsorted)");
                if (_m.Fd(bck) != victim || _m.Fd(victim) != unsorted)
                    MallocState.Fail("malloc(): unsorted double linked list corrupted");
                if ((nextRaw & Chunk.PrevInuse) != 0)
                    MallocState.Fail("malloc(): invalid next->prev_inuse (unsorted)");

                if (BinIndex.InSmallbinRange(nb) && bck == unsorted && victim == av.LastRemainder
                    && size > nb + Chunk.MinSize)
                {
                    ulong remainderSize = size - nb;
                    ulong remainder = victim + nb;
                    _m.SetBk(unsorted, remainder);
                    _m.SetFd(unsorted, remainder);
                    av.LastRemainder = remainder;
                    _m.SetBk(remainder, unsorted);
                    _m.SetFd(remainder, unsorted);
                    if (!BinIndex.InSmallbinRange(remainderSize))
                    {
                        _m.SetFdNextSize(remainder, 0);
                        _m.SetBkNextSize(remainder, 0);
                    }
                    _m.SetHead(victim, nb | Chunk.PrevInuse | av.ArenaFlag);
                    _m.SetHead(remainder, remainderSize | Chunk.PrevInuse);
                    _m.SetFoot(remainder, remainderSize);
                    return Chunk.ToMem(victim);
                }

                if (_m.Fd(bck) != victim)
                    MallocState.Fail("malloc(): corrupted unsorted chunks 3");
                _m.SetBk(unsorted, bck);
                _m.SetFd(bck, unsorted);

                if (size == nb)
                {
                    _m.SetInUseBitAtOffset(victim, size);
                    if (!av.IsMain)
                        _m.SetNonMainArena(victim);
                    if (tcacheNb != 0 && tc!.Counts[tcIdx] < mp.TcacheCount)
                    {
                        _s.Tcaches.Put(tc, victim, tcIdx);
                        returnCached = true;
                        continue;
                    }
                    return Chunk.ToMem(victim);
                }

                int victimIndex;
                ulong fwd;
                if (BinIndex.InSmallbinRange(size))
                {
                    victimIndex = BinIndex.SmallbinIndex(size);
                    bck = av.BinAt(victimIndex);
                    fwd = _m.Fd(bck);
                }
                else
                {
                    victimIndex = BinIndex.LargebinIndex(size);
                    bck = av.BinAt(victimIndex);
                    fwd = _m.Fd(bck);
                    if (fwd != bck)
                    {
                        ulong sizeP = size | Chunk.PrevInuse;
                        if (sizeP < _m.SizeNoMask(_m.Bk(bck)))
                        {
                            fwd = bck;
                            bck = _m.Bk(bck);
                            ulong first = _m.Fd(fwd);
                            _m.SetFdNextSize(victim, first);
                            _m.SetBkNextSize(victim, _m.BkNextSize(first));
                            _m.SetFdNextSize(_m.BkNextSize(victim), victim);
                            _m.SetBkNextSize(first, victim);
                        }
                        else
                        {
                            while (sizeP < _m.SizeNoMask(fwd))
                                fwd = _m.FdNextSize(fwd);
                            if (sizeP == _m.SizeNoMask(fwd))
                            {
                                fwd = _m.Fd(fwd);
                            }
                            else
                            {
                                _m.SetFdNextSize(victim, fwd);
                                _m.SetBkNextSize(victim, _m.BkNextSize(fwd));
                                if (_m.FdNextSize(_m.BkNextSize(fwd)) != fwd)
                                    MallocState.Fail("malloc(): largebin double linked list corrupted (nextsize)");
                                _m.SetBkNextSize(fwd, victim);
                                _m.SetFdNextSize(_m.BkNextSize(victim), victim);
                            }
                            bck = _m.Bk(fwd);
                            if (_m.Fd(bck) != fwd)
                                MallocState.Fail("malloc(): largebin double linked list corrupted (bk)");
                        }
                    }
                    else
                    {
                        _m.SetFdNextSize(victim, victim);
                        _m.SetBkNextSize(victim, victim);
                    }
                }
                av.MarkBin(victimIndex);
                _m.SetBk(victim, bck);
                _m.SetFd(victim, fwd);
                _m.SetBk(fwd, victim);
                _m.SetFd(bck, victim);

                ++tcacheUnsortedCount;
                if (returnCached && mp.TcacheUnsortedLimit > 0 && tcacheUnsortedCount > mp.TcacheUnsortedLimit)
                {
                    _fromTcache = true;
                    return _s.Tcaches.Get(tc!, tcIdx);
                }

                if (++iters >= MaxUnsortedIterations)
                    break;
            }

            if (returnCached)
            {
                _fromTcache = true;
                return _s.Tcaches.Get(tc!, tcIdx);
            }

            if (!BinIndex.InSmallbinRange(nb))
            {
                ulong bin = av.BinAt(idx);
                victim = _m.Fd(bin);
                if (victim != bin && _m.SizeNoMask(victim) >= nb)
                {
                    victim = _m.BkNextSize(victim);
                    ulong size;
                    while ((size = _m.ChunkSize(victim)) < nb)
                        victim = _m.BkNextSize(victim);
                    if (victim != _m.Bk(bin) && _m.SizeNoMask(victim) == _m.SizeNoMask(_m.Fd(victim)))
                        victim = _m.Fd(victim);
                    return TakeFromBin(av, victim, size, nb, "malloc(): corrupted unsorted chunks", false);
                }
            }

            ++idx;
            ulong binp = av.BinAt(idx);
            int block = idx >> 5;
            uint map = av.Binmap[block];
            uint bit = 1u << (idx & 31);
            bool useTop = false;
            for (; ; )
            {
                if (bit > map || bit == 0)
                {
                    do
                    {
                        if (++block >= BinIndex.BinmapWords)
                        {
                            useTop = true;
                            break;
                        }
                    }
                    while ((map = av.Binmap[block]) == 0);
                    if (useTop)
                        break;
                    idx = block << 5;
                    binp = av.BinAt(idx);
                    bit = 1;
                }
                while ((bit & map) == 0)
                {
                    binp += 16;
                    idx++;
                    bit <<= 1;
                }
                victim = _m.Bk(binp);
                if (victim == binp)
                {
                    av.Binmap[block] = map &= ~bit;
                    binp += 16;
                    idx++;
                    bit <<= 1;
                }
                else
                {
                    return TakeFromBin(av, victim, _m.ChunkSize(victim), nb, "malloc(): corrupted unsorted chunks 2", true);
                }
            }

            // use_top
            victim = av.Top;
            ulong topSize = _m.ChunkSize(victim);
            if (topSize > av.SystemMem)
                MallocState.Fail("malloc(): corrupted top size");
            if (topSize >= nb + Chunk.MinSize)
            {
                ulong remainder = victim + nb;
                av.Top = remainder;
                _m.SetHead(victim, nb | Chunk.PrevInuse | av.ArenaFlag);
                _m.SetHead(remainder, (topSize - nb) | Chunk.PrevInuse);
                return Chunk.ToMem(victim);
            }
            if (av.HaveFastchunks)
            {
                _s.Consolidator.Consolidate(av);
                idx = BinIndex.InSmallbinRange(nb) ? BinIndex.SmallbinIndex(nb) : BinIndex.LargebinIndex(nb);
            }
            else
            {
                return _s.Sys.Allocate(nb, av);
            }
        }
    }

    /// <summary>
    /// Serves nb from a binned chunk of <paramref name="size"/> bytes (the large-bin and binmap paths):
    /// unlinks it, then hands it out whole when the rest would be smaller than MINSIZE (the slack stays
    /// inside the chunk), else splits it and sends the remainder to unsorted.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong TakeFromBin(Arena av, ulong victim, ulong size, ulong nb, string corruptMessage, bool setLastRemainder)
    {
        ulong remainderSize = size - nb;
        _s.Free.Unlink(av, victim);
        if (remainderSize < Chunk.MinSize)
        {
            _m.SetInUseBitAtOffset(victim, size);
            if (!av.IsMain)
                _m.SetNonMainArena(victim);
        }
        else
        {
            SplitToUnsorted(av, victim, nb, remainderSize, corruptMessage, setLastRemainder);
        }

        return Chunk.ToMem(victim);
    }

    /// <summary>Takes nb from the front of <paramref name="victim"/> and puts the remainder at the front of unsorted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SplitToUnsorted(Arena av, ulong victim, ulong nb, ulong remainderSize, string corruptMessage, bool setLastRemainder)
    {
        ulong remainder = victim + nb;
        ulong bck = av.Unsorted;
        ulong fwd = _m.Fd(bck);
        if (_m.Bk(fwd) != bck)
            MallocState.Fail(corruptMessage);
        _m.SetBk(remainder, bck);
        _m.SetFd(remainder, fwd);
        _m.SetFd(bck, remainder);
        _m.SetBk(fwd, remainder);
        if (setLastRemainder && BinIndex.InSmallbinRange(nb))
            av.LastRemainder = remainder;
        if (!BinIndex.InSmallbinRange(remainderSize))
        {
            _m.SetFdNextSize(remainder, 0);
            _m.SetBkNextSize(remainder, 0);
        }
        _m.SetHead(victim, nb | Chunk.PrevInuse | av.ArenaFlag);
        _m.SetHead(remainder, remainderSize | Chunk.PrevInuse);
        _m.SetFoot(remainder, remainderSize);
    }
}
