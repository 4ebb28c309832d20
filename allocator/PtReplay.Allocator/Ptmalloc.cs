using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using PtReplay.Allocator.Arenas;
using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;
using PtReplay.Allocator.Free;
using PtReplay.Allocator.Malloc;
using PtReplay.Allocator.Memalign;
using PtReplay.Allocator.Realloc;
using PtReplay.Allocator.Tunables;

namespace PtReplay.Allocator;

/// <summary>
/// glibc 2.36's ptmalloc (x86_64) over a simulated address space: the public entry points
/// (__libc_malloc, free, calloc, realloc, memalign family, malloc_trim, mallopt, mallinfo2, malloc_info)
/// with their exact decisions, so a replayed single-thread program gets the addresses glibc gave it.
/// <c>thread</c> is the trace's thread index (0 = main thread). Integrity failures glibc would abort on
/// throw <see cref="MallocAbortException"/>; the model's state is then unspecified.
/// Not thread-safe: one replay at a time.
/// </summary>
public sealed class Ptmalloc
{
    private readonly MallocState _s;
    private readonly IntRealloc _realloc;
    private readonly IntMemalign _memalign;
    private readonly TouchModel _touch;

    /// <summary>Creates a fresh process image: empty heap at <see cref="ModelOptions.Brk0"/>, tunables applied.</summary>
    public Ptmalloc(ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var s = new MallocState(options);
        _s = s;
        s.Malloc = new IntMalloc(s);
        s.Sys = new SysMalloc(s);
        s.Free = new IntFree(s);
        s.Consolidator = new Consolidator(s);
        s.Trimmer = new Trimmer(s);
        s.HeapManager = new HeapManager(s);
        s.Selector = new ArenaSelector(s);
        s.Tcaches = new TcacheOps(s);
        _realloc = new IntRealloc(s);
        _memalign = new IntMemalign(s);
        _touch = options.Touch;
        s.Selector.InitState(s.Main);
        s.Mp.Apply(options.Tunables, options.ThpMadviseMode);
        var main = new ThreadState { Arena = s.Main };
        s.Threads.Add(main);
        s.Current = main;
    }

    /// <summary>
    /// Allocates the host arrays behind <paramref name="pages"/> simulated pages ahead of need, so the first calls that
    /// write new pages do not allocate (a timed replay does this before its clock starts). Changes no simulated state:
    /// addresses, footprint and residency are the same with or without it.
    /// </summary>
    public void ReserveHostPages(int pages) => _s.Space.Memory.ReserveSpare(pages, pages);

    /// <summary>
    /// As <see cref="ReserveHostPages(int)"/>, with <paramref name="breakPages"/> for the program break's area (one
    /// contiguous host block) and <paramref name="otherPages"/> for pages elsewhere (mmapped chunks' headers, thread
    /// arenas' heaps): a single-thread trace needs few of those.
    /// </summary>
    public void ReserveHostPages(int breakPages, int otherPages) => _s.Space.Memory.ReserveSpare(breakPages, otherPages);

    /// <summary>Options this model was built with.</summary>
    public ModelOptions Options => _s.Options;

    /// <summary>Where the heap started (mp_.sbrk_base, 0 before the first sbrk).</summary>
    public ulong SbrkBase => _s.Mp.SbrkBase;

    /// <summary>Current program break.</summary>
    public ulong Brk => _s.Space.Brk;

    internal MallocState State => _s;

    /// <summary>Arenas created so far, main arena included.</summary>
    public int ArenaCount => _s.Arenas.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Enter(int thread)
    {
        var threads = _s.Threads;
        if ((uint)thread < (uint)threads.Count && threads[thread] is { } t && !t.Exited)
        {
            // Stored only when it changes: a reference store costs a GC write barrier.
            if (!ReferenceEquals(_s.Current, t))
                _s.Current = t;
            return;
        }
        EnterSlow(thread);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void EnterSlow(int thread)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(thread);
        while (_s.Threads.Count <= thread)
            _s.Threads.Add(new ThreadState());
        var t = _s.Threads[thread];
        if (t.Exited)
            _s.Threads[thread] = t = new ThreadState();
        if (thread != 0)
            _s.SingleThread = false;
        _s.Current = t;
    }

    /// <summary>
    /// When true, the calls leave the touch of the block they return (the replay's touch model, <see cref="ModelOptions.Touch"/>)
    /// to the caller, who applies it with <see cref="TouchReturned"/> after timing the call, as the native replayer touches
    /// a block after its second clock read. The touches glibc itself makes (calloc's clearing, realloc's copy) stay in the call.
    /// </summary>
    public bool DeferTouch { get; set; }

    /// <summary>Applies the touch model to a block a call returned (see <see cref="DeferTouch"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void TouchReturned(ulong mem) => TouchNow(mem);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Touch(ulong mem)
    {
        if (!DeferTouch)
            TouchNow(mem);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void TouchNow(ulong mem)
    {
        if (_touch == TouchModel.None || mem == 0)
            return;
        // malloc_usable_size of a block a call just returned, which is in use: its next chunk's PREV_INUSE bit is set, so
        // that chunk's header need not be read. Residency is kept per page, so touching every page of the usable bytes
        // (page model) and every byte of them (full model) mark the same pages.
        ulong raw = _s.M.SizeNoMask(Chunk.FromMem(mem));
        ulong usable = (raw & ~Chunk.SizeBits) - ((raw & Chunk.IsMmapped) != 0 ? Chunk.HeaderSize : Chunk.SizeSz);
        _s.Space.Touch(mem, usable);
    }

    /// <summary>
    /// A hint from a caller that knows its next calls (a replay): <paramref name="mem"/>, a block of
    /// <paramref name="requested"/> bytes this model returned, will soon be freed or reallocated, so the host cache lines
    /// that call reads first (the chunk's header and tcache key, the next chunk's header) are prefetched. Reads and writes
    /// nothing simulated: every figure and address is the same with or without it, and any value (0, a block freed since)
    /// is allowed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchBlock(ulong mem, ulong requested)
    {
        var m = _s.M;
        m.Prefetch(mem - Chunk.SizeSz);
        m.Prefetch(mem + Chunk.SizeSz);
        m.Prefetch(mem - Chunk.HeaderSize + Chunk.RequestToSize(requested) + Chunk.SizeSz);
    }

    /// <summary>MAYBE_INIT_TCACHE for the current thread (the check inline, the set-up in <see cref="TcacheOps.MaybeInit"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void MaybeInitTcache()
    {
        if (_s.Current.Tcache is null)
            _s.Tcaches.MaybeInit();
    }

    // ---------------------------------------------------------------- malloc

    /// <summary>malloc(size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Malloc(int thread, ulong size)
    {
        Enter(thread);
        ulong mem = MallocInternal(size);
        Touch(mem);
        return mem;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong MallocInternal(ulong bytes)
    {
        ulong tbytes = Chunk.CheckedRequestToSize(bytes);
        if (tbytes == 0)
            return 0;
        ulong tcIdx = BinIndex.TcacheIndex(tbytes);
        MaybeInitTcache();
        var tc = _s.Current.Tcache;
        if (tcIdx < _s.Mp.TcacheBins && tc is not null && tc.Counts[tcIdx] > 0)
            return _s.Tcaches.Get(tc, tcIdx);
        if (_s.SingleThread)
            return _s.Malloc.Malloc(_s.Main, bytes);
        var ar = _s.Selector.ArenaGet(bytes);
        ulong victim = _s.Malloc.Malloc(ar, bytes);
        if (victim == 0 && ar is not null)
        {
            ar = _s.Selector.ArenaGetRetry(ar, bytes);
            victim = _s.Malloc.Malloc(ar, bytes);
        }
        return victim;
    }

    // ---------------------------------------------------------------- free

    /// <summary>free(ptr).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Free(int thread, ulong ptr)
    {
        Enter(thread);
        FreeInternal(ptr);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal void FreeInternal(ulong mem)
    {
        if (mem == 0)
            return;
        ulong p = Chunk.FromMem(mem);
        if (_s.M.IsMmappedChunk(p))
        {
            FreeMmapped(p);
            return;
        }
        MaybeInitTcache();
        _s.Free.Free(_s.ArenaForChunk(p), p, false);
    }

    /// <summary>free of an mmapped chunk: the dynamic mmap threshold's update, then munmap_chunk.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void FreeMmapped(ulong p)
    {
        var m = _s.M;
        var mp = _s.Mp;
        ulong raw = m.SizeNoMask(p);
        if (!mp.NoDynamicThreshold && raw > mp.MmapThreshold && raw <= MallocParams.DefaultMmapThresholdMax)
        {
            mp.MmapThreshold = m.ChunkSize(p);
            mp.TrimThreshold = 2 * mp.MmapThreshold;
        }
        _s.Trimmer.MunmapChunk(p);
    }

    // ---------------------------------------------------------------- calloc

    /// <summary>calloc(count, size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Calloc(int thread, ulong count, ulong size)
    {
        Enter(thread);
        ulong high = Math.BigMul(count, size, out ulong bytes);
        if (high != 0 || bytes > Chunk.MaxRequest)
            return 0;
        MaybeInitTcache();
        var av = _s.SingleThread ? _s.Main : _s.Selector.ArenaGet(bytes);
        ulong oldtop = 0, oldtopsize = 0;
        var m = _s.M;
        if (av is not null)
        {
            oldtop = av.Top;
            oldtopsize = m.ChunkSize(oldtop);
            // malloc.c also extends oldtopsize to sbrk_base + max_system_mem for the main arena, but the
            // Debian 2.36 binary does not behave that way: measured under gdb, calloc's memset stops at the old
            // top's size when the chunk comes from a top that had to grow (after a trim, too), and mincore agrees
            // (HeapResidency_MatchesMincore). The model follows the binary; this only affects residency.
            if (!av.IsMain)
            {
                var heap = _s.HeapForPtr(oldtop);
                ulong fresh = heap.Base + heap.MprotectSize - oldtop;
                if (oldtopsize < fresh)
                    oldtopsize = fresh;
            }
        }
        ulong mem = _s.Malloc.Malloc(av, bytes);
        if (!_s.SingleThread && mem == 0 && av is not null)
        {
            av = _s.Selector.ArenaGetRetry(av, bytes);
            mem = _s.Malloc.Malloc(av, bytes);
        }
        if (mem == 0)
            return 0;
        ulong p = Chunk.FromMem(mem);
        ulong csz = m.ChunkSize(p);
        if (m.IsMmappedChunk(p))
        {
            if (_s.Mp.PerturbByte != 0)
                _s.Space.Touch(mem, bytes);
        }
        else
        {
            if (_s.Mp.PerturbByte == 0 && p == oldtop && csz > oldtopsize)
                csz = oldtopsize;
            ulong clear = csz - Chunk.SizeSz;
            // memset writes zeros: user data only, so residency is what changes.
            _s.Space.Touch(mem, clear);
        }
        Touch(mem);
        return mem;
    }

    // ---------------------------------------------------------------- realloc

    /// <summary>realloc(ptr, size); realloc(p, 0) frees and returns 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Realloc(int thread, ulong ptr, ulong size)
    {
        Enter(thread);
        ulong mem = ReallocInternal(ptr, size);
        Touch(mem);
        return mem;
    }

    /// <summary>reallocarray(ptr, count, size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong ReallocArray(int thread, ulong ptr, ulong count, ulong size)
    {
        Enter(thread);
        ulong high = Math.BigMul(count, size, out ulong bytes);
        if (high != 0)
            return 0;
        ulong mem = ReallocInternal(ptr, bytes);
        Touch(mem);
        return mem;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong ReallocInternal(ulong oldmem, ulong bytes)
    {
        if (bytes == 0 && oldmem != 0)
        {
            FreeInternal(oldmem);
            return 0;
        }
        if (oldmem == 0)
            return MallocInternal(bytes);
        var m = _s.M;
        ulong oldp = Chunk.FromMem(oldmem);
        ulong oldsize = m.ChunkSize(oldp);
        Arena? ar = null;
        bool mmapped = m.IsMmappedChunk(oldp);
        if (!mmapped)
        {
            MaybeInitTcache();
            ar = _s.ArenaForChunk(oldp);
        }
        if (oldp > 0UL - oldsize || Chunk.Misaligned(oldp))
            MallocState.Fail("realloc(): invalid pointer");
        ulong nb = Chunk.CheckedRequestToSize(bytes);
        if (nb == 0)
            return 0;
        if (mmapped)
        {
            ulong newp = _realloc.MremapChunk(oldp, nb);
            if (newp != 0)
                return Chunk.ToMem(newp);
            if (oldsize - Chunk.SizeSz >= nb)
                return oldmem;
            ulong newmem = MallocInternal(bytes);
            if (newmem == 0)
                return 0;
            _s.Space.Touch(oldmem, oldsize - Chunk.HeaderSize);
            _s.Space.Touch(newmem, oldsize - Chunk.HeaderSize);
            _s.Trimmer.MunmapChunk(oldp);
            return newmem;
        }
        ulong result = _realloc.Realloc(ar!, oldp, oldsize, nb);
        if (result == 0 && !_s.SingleThread)
        {
            result = MallocInternal(bytes);
            if (result != 0)
            {
                _s.Space.Touch(oldmem, oldsize - Chunk.SizeSz);
                _s.Space.Touch(result, oldsize - Chunk.SizeSz);
                _s.Free.Free(ar!, oldp, false);
            }
        }
        return result;
    }

    // ---------------------------------------------------------------- memalign family

    /// <summary>memalign(alignment, size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Memalign(int thread, ulong alignment, ulong size)
    {
        Enter(thread);
        ulong mem = MidMemalign(alignment, size);
        Touch(mem);
        return mem;
    }

    /// <summary>aligned_alloc(alignment, size) (2.36: same as memalign).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong AlignedAlloc(int thread, ulong alignment, ulong size) => Memalign(thread, alignment, size);

    /// <summary>posix_memalign: returns 0 or EINVAL (22) / ENOMEM (12).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int PosixMemalign(int thread, ulong alignment, ulong size, out ulong result)
    {
        Enter(thread);
        result = 0;
        if (alignment % 8 != 0 || !IsPowerOfTwo(alignment / 8) || alignment == 0)
            return 22;
        ulong mem = MidMemalign(alignment, size);
        if (mem == 0)
            return 12;
        Touch(mem);
        result = mem;
        return 0;
    }

    /// <summary>valloc(size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Valloc(int thread, ulong size) => Memalign(thread, _s.PageSize, size);

    /// <summary>pvalloc(size).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Pvalloc(int thread, ulong size)
    {
        ulong ps = _s.PageSize;
        if (size > ulong.MaxValue - (ps - 1))
            return 0;
        ulong rounded = (size + ps - 1) & (0UL - (ps - 1));
        return Memalign(thread, ps, rounded);
    }

    private static bool IsPowerOfTwo(ulong x) => (x & (x - 1)) == 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ulong MidMemalign(ulong alignment, ulong bytes)
    {
        if (alignment <= Chunk.Alignment)
            return MallocInternal(bytes);
        if (alignment < Chunk.MinSize)
            alignment = Chunk.MinSize;
        if (alignment > (ulong.MaxValue / 2) + 1)
            return 0;
        if (!IsPowerOfTwo(alignment))
        {
            ulong a = Chunk.Alignment * 2;
            while (a < alignment)
                a <<= 1;
            alignment = a;
        }
        if (_s.SingleThread)
            return _memalign.Memalign(_s.Main, alignment, bytes);
        var ar = _s.Selector.ArenaGet(bytes + alignment + Chunk.MinSize);
        ulong p = _memalign.Memalign(ar, alignment, bytes);
        if (p == 0 && ar is not null)
        {
            ar = _s.Selector.ArenaGetRetry(ar, bytes);
            p = _memalign.Memalign(ar, alignment, bytes);
        }
        return p;
    }

    // ---------------------------------------------------------------- threads, trim, info

    /// <summary>Thread exit: flushes the thread's tcache back to its arena and puts the arena on the free list when no thread uses it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ThreadExit(int thread)
    {
        Enter(thread);
        _s.Tcaches.Shutdown(this);
        var t = _s.Current;
        var a = t.Arena;
        t.Arena = null;
        if (a is not null && --a.AttachedThreads == 0)
        {
            a.NextFree = _s.FreeList;
            _s.FreeList = a;
        }
        t.Exited = true;
    }

    /// <summary>
    /// The heap as a fork child sees it: <paramref name="forkingThread"/> (the parent's thread that called fork)
    /// becomes thread 0, the only thread, with its arena and tcache; the other threads are gone (their tcaches
    /// stay allocated, nobody frees them). When the parent had more than one thread, glibc's atfork child handler
    /// (__malloc_fork_unlock_child) then detaches every arena but the forking thread's (attached_threads 0) and
    /// pushes them onto the free list, walking main, newest, ..., oldest (so the oldest ends first in the list),
    /// main included when the forking thread had no arena; the forking thread's arena keeps one attached thread.
    /// A single-threaded parent runs no such handler: its state passes unchanged.
    /// </summary>
    public void ForkChild(int forkingThread)
    {
        Enter(forkingThread);
        var t = _s.Current;
        _s.Threads.Clear();
        _s.Threads.Add(t);
        if (_s.SingleThread)
            return;
        if (t.Arena is not null)
            t.Arena.AttachedThreads = 1;
        _s.FreeList = null;
        var a = _s.Main;
        do
        {
            if (a != t.Arena)
            {
                a.AttachedThreads = 0;
                a.NextFree = _s.FreeList;
                _s.FreeList = a;
            }
            a = a.Next ?? _s.Main;
        }
        while (a != _s.Main);
    }

    /// <summary>malloc_trim(pad): 1 when memory was released.</summary>
    public int MallocTrim(int thread, ulong pad)
    {
        Enter(thread);
        int result = 0;
        var a = _s.Main;
        do
        {
            result |= _s.Trimmer.Mtrim(a, pad);
            a = a.Next!;
        }
        while (a != _s.Main);
        return result;
    }

    /// <summary>malloc_usable_size(ptr).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong UsableSize(ulong ptr)
    {
        if (ptr == 0)
            return 0;
        var m = _s.M;
        ulong p = Chunk.FromMem(ptr);
        if (m.IsMmappedChunk(p))
            return m.ChunkSize(p) - Chunk.HeaderSize;
        if (m.InUse(p))
            return m.ChunkSize(p) - Chunk.SizeSz;
        return 0;
    }

    /// <summary>mallopt(param, value): M_MXFAST 1, M_TRIM_THRESHOLD -1, M_TOP_PAD -2, M_MMAP_THRESHOLD -3, M_MMAP_MAX -4, M_CHECK_ACTION -5, M_PERTURB -6, M_ARENA_TEST -7, M_ARENA_MAX -8.</summary>
    public int Mallopt(int param, int value)
    {
        var mp = _s.Mp;
        _s.Consolidator.Consolidate(_s.Main);
        ulong v = (ulong)(long)value;
        switch (param)
        {
            case 1: return mp.SetMxFast(v) ? 1 : 0;
            case -1: mp.SetTrimThreshold(v); return 1;
            case -2: mp.SetTopPad(v); return 1;
            case -3: mp.SetMmapThreshold(v); return 1;
            case -4: mp.SetMmapsMax(value); return 1;
            case -5: return 1;
            case -6: mp.PerturbByte = value; return 1;
            case -7: if (value > 0) mp.ArenaTest = v; return 1;
            case -8: if (value > 0) mp.ArenaMax = v; return 1;
            default: return 1;
        }
    }

    /// <summary>mallinfo2().</summary>
    public MallInfo2 MallInfo2()
    {
        var m = _s.M;
        ulong arena = 0, ordblks = 0, smblks = 0, fsmblks = 0, uord = 0, ford = 0, keepcost = 0;
        var a = _s.Main;
        do
        {
            ulong avail = m.ChunkSize(a.Top);
            ulong nblocks = 1, nfast = 0, fastavail = 0;
            for (int i = 0; i < BinIndex.NFastBins; i++)
                for (ulong p = a.FastbinsY[i]; p != 0; p = m.ReadProtected(p + 16))
                {
                    nfast++;
                    fastavail += m.ChunkSize(p);
                }
            avail += fastavail;
            for (int i = 1; i < BinIndex.NBins; i++)
            {
                ulong b = a.BinAt(i);
                for (ulong p = m.Bk(b); p != b; p = m.Bk(p))
                {
                    nblocks++;
                    avail += m.ChunkSize(p);
                }
            }
            smblks += nfast;
            ordblks += nblocks;
            ford += avail;
            uord += a.SystemMem - avail;
            arena += a.SystemMem;
            fsmblks += fastavail;
            if (a.IsMain)
                keepcost = m.ChunkSize(a.Top);
            a = a.Next!;
        }
        while (a != _s.Main);
        return new MallInfo2(arena, ordblks, smblks, (ulong)_s.Mp.NMmaps, _s.Mp.MmappedMem, 0, fsmblks, uord, ford, keepcost);
    }

    /// <summary>Every chunk of every arena heap and every mmapped chunk, with its state (read-only; <see cref="Diagnostics.HeapWalker"/>).</summary>
    public Diagnostics.HeapSnapshot WalkHeap() => Diagnostics.HeapWalker.Walk(_s);

    /// <summary>malloc_info(0, fp): the same XML glibc writes.</summary>
    public string MallocInfoXml() => Diagnostics.MallocInfoWriter.Write(_s);

    /// <summary>Footprint and RSS of the simulated process.</summary>
    public MemoryFootprint Footprint
    {
        get
        {
            ulong main = _s.Space.Brk - _s.Space.Brk0;
            ulong heaps = _s.HeapManager.TotalHeapBytes();
            ulong mmapped = _s.Mp.MmappedMem;
            ulong resident = _s.Space.Residency.ResidentBytes;
            // The main arena's malloc_state lives in libc's data, not in memory the allocator obtained: its pages
            // (the struct straddles a page boundary) are not the allocator's resident memory.
            resident -= _s.Space.Residency.CountRange(MallocState.MainArenaAddress(_s.Options), Arenas.Arena.StateSize) * _s.PageSize;
            return new MemoryFootprint(main, heaps, mmapped, main + heaps + mmapped, resident)
            {
                CommittedBytes = main + _s.HeapManager.TotalMprotectBytes() + mmapped,
                AddressSpaceBytes = main + ((ulong)_s.Heaps.Count * Arenas.HeapInfo.MaxSize) + mmapped,
            };
        }
    }

    /// <summary>Resident bytes (page-residency model) of the pages overlapping [start, start+length).</summary>
    public ulong ResidentBytesInRange(ulong start, ulong length) => _s.Space.Residency.CountRange(start, length) * _s.PageSize;

    /// <summary>Classifies a user pointer for parity comparison.</summary>
    public AddressInfo Classify(ulong userPtr)
    {
        if (userPtr < Chunk.HeaderSize)
            return default;
        var m = _s.M;
        ulong p = Chunk.FromMem(userPtr);
        ulong size = m.ChunkSize(p);
        ulong usable = UsableSize(userPtr);
        if (m.IsMmappedChunk(p))
            return new AddressInfo(AddressRegion.Mmapped, 0, -1, -1, size, usable) { MmapOffset = m.PrevSize(p) };
        if (p >= _s.Space.Brk0 && p < _s.Space.Brk)
            return new AddressInfo(AddressRegion.MainHeap, userPtr - _s.Space.Brk0, 0, -1, size, usable);
        if (_s.Heaps.TryGetValue(p & ~(HeapInfo.MaxSize - 1), out var heap))
            return new AddressInfo(AddressRegion.ArenaHeap, userPtr - heap.Base, heap.Arena.CreationIndex, heap.Index, size, usable);
        return new AddressInfo(AddressRegion.Unknown, 0, -1, -1, size, usable);
    }

    /// <summary>Checks every invariant of every arena; throws <see cref="InvalidOperationException"/> describing the first violation.</summary>
    public void Validate() => Diagnostics.HeapValidator.Validate(_s);

    /// <summary>Reads one word of simulated memory (diagnostics and tests).</summary>
    public ulong PeekForTests(ulong address) => _s.M.Read(address);

    /// <summary>Overwrites one word of simulated memory, as a buggy program would (tests of the integrity checks).</summary>
    public void CorruptForTests(ulong address, ulong value) => _s.M.Write(address, value);

    /// <summary>A human-readable dump of the state around <paramref name="userPtr"/> (bins, top, neighbouring chunks).</summary>
    public string DescribeAround(ulong userPtr) => Diagnostics.StateDump.Describe(_s, userPtr);

    internal static string Hex(ulong v) => "0x" + v.ToString("x", CultureInfo.InvariantCulture);

    internal static StringBuilder AppendHex(StringBuilder sb, ulong v) => sb.Append("0x").Append(v.ToString("x", CultureInfo.InvariantCulture));
}
