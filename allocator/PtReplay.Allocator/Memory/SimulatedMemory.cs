using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace PtReplay.Allocator.Memory;

/// <summary>
/// The simulated process memory, as sparse 4 KiB pages of 64-bit words. All allocator metadata (chunk
/// headers, fd/bk links, arena bins, heap_info) lives here, in-band, exactly where glibc keeps it.
/// Invariants: addresses are 8-byte aligned; a page never written reads as zeros and costs nothing;
/// pages are created on first write and reported resident to <see cref="PageResidency"/>.
/// The break area (brk0 up, at most 4 GiB) is one contiguous host block (<see cref="HostRange"/>), so an access there is a
/// bounds check and a load; other pages (mmapped chunks, arena heaps) are looked up through a small direct-mapped cache
/// in front of a dictionary. All host memory is native (the block, and <see cref="HostPageStore"/> pages elsewhere: a page
/// is its address there, 0 is no page), so a call that writes a new page allocates nothing on the managed heap; only
/// the page tables and the block's bitmap grow, by doubling.
/// </summary>
public sealed unsafe class SimulatedMemory
{
    private const int PageShift = 12;
    private const ulong PageMask = (1UL << PageShift) - 1;
    private const int CacheSize = 256;

    private readonly Dictionary<ulong, nint> _pages = [];
    private readonly List<ulong> _doomedScratch = [];                   // DiscardSparse's pages to drop, reused: no allocation per call
    private readonly List<(ulong Page, nint Words)> _movedScratch = []; // MovePages' pages in flight, reused likewise
    private readonly ulong[] _cacheKeys = new ulong[CacheSize];
    private readonly nint[] _cachePages = new nint[CacheSize];
    private readonly HostPageStore _store = new();
    private readonly PageResidency _residency;

    /// <summary>
    /// Pages of the break area (from brk0's page up, at most 4 GiB) live in one contiguous host block instead of the
    /// dictionary: the word at address a is at host base + (a - <see cref="_denseBase"/>). A bit per page says whether
    /// the page is materialised (written since it was last dropped); a page whose bit is clear is all zeros in the block.
    /// </summary>
    private const ulong DenseMaxPages = 1UL << 20;
    /// <summary>Smallest size of the host block, so that a small heap grows it rarely.</summary>
    private const ulong DenseMinBytes = 1UL << 20;
    private readonly ulong _denseBasePage;
    private readonly ulong _denseBase;
    private readonly HostRange _host = new();
    /// <summary>Copies of the block's <see cref="HostRange.Base"/> and <see cref="HostRange.Bytes"/> for the fast paths.</summary>
    private byte* _hostBase;
    private ulong _hostBytes;
    /// <summary>Materialised pages of the block, a bit per page; at least one word per 64 pages of <see cref="_hostBytes"/>.</summary>
    private ulong[] _written = [];
    private int _denseCount;

    /// <summary>Creates an empty memory that reports materialised pages to <paramref name="residency"/>;
    /// <paramref name="denseBase"/> starts the range served by the contiguous host block (the break area).</summary>
    public SimulatedMemory(PageResidency residency, ulong denseBase = 0)
    {
        _residency = residency;
        _denseBasePage = denseBase >> PageShift;
        _denseBase = _denseBasePage << PageShift;
    }

    /// <summary>
    /// Allocates host memory ahead of need: the host block of the break area (faulted in) and the residency's page table
    /// are sized for <paramref name="pages"/> pages above brk0, and <paramref name="otherPages"/> pages for pages outside
    /// it (mmapped chunks, thread arenas' heaps) wait in the page store, so the next pages written take them instead of
    /// allocating. Nothing simulated changes: a spare page is all zeros, as a page never written reads.
    /// </summary>
    public void ReserveSpare(int pages, int otherPages)
    {
        _store.Reserve(otherPages);
        ulong bytes = Math.Min(DenseMaxPages, (ulong)pages) << PageShift;
        if (bytes > _hostBytes)
        {
            ulong from = _hostBytes;
            GrowHost(bytes);
            for (ulong off = from; off < bytes; off += 1UL << PageShift)
                Volatile.Write(ref _hostBase[off], 0);
        }
        _residency.ReserveDense((ulong)pages);
        GC.KeepAlive(this);
    }

    /// <summary>Number of materialised pages.</summary>
    public int PageCount => _pages.Count + _denseCount;

    /// <summary>Grows the host block to at least <paramref name="bytes"/> (doubling, at most 4 GiB) and its bitmap with it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowHost(ulong bytes)
    {
        ulong target = Math.Max(bytes, Math.Max(DenseMinBytes, _hostBytes * 2));
        target = Math.Min(target, DenseMaxPages << PageShift);
        _host.Grow(target);
        _hostBase = _host.Base;
        _hostBytes = _host.Bytes;
        ulong words = ((_hostBytes >> PageShift) + 63) >> 6;
        if (words > (ulong)_written.Length)
            Array.Resize(ref _written, (int)words);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool DenseWritten(ulong d) =>
        d < (_hostBytes >> PageShift) && (_written[d >> 6] & (1UL << (int)(d & 63))) != 0;

    /// <summary>Materialises dense page <paramref name="d"/> (page number minus brk0's): grows the block to hold it, sets its
    /// bit and reports it resident.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DenseMaterialize(ulong d)
    {
        if (((d + 1) << PageShift) > _hostBytes)
            GrowHost((d + 1) << PageShift);
        ulong bit = 1UL << (int)(d & 63);
        if ((_written[d >> 6] & bit) == 0)
        {
            _written[d >> 6] |= bit;
            _denseCount++;
            _residency.MarkPage(d + _denseBasePage);
        }
    }

    /// <summary>Drops dense page <paramref name="d"/>: clears its bit and zeroes it, so it reads as never written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DenseDrop(ulong d)
    {
        if (!DenseWritten(d))
            return;
        _written[d >> 6] &= ~(1UL << (int)(d & 63));
        _denseCount--;
        NativeMemory.Clear(_hostBase + (d << PageShift), 1u << PageShift);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryGetPage(ulong page, out nint words)
    {
        ulong d = page - _denseBasePage;
        if (d < DenseMaxPages)
        {
            words = DenseWritten(d) ? (nint)(_hostBase + (d << PageShift)) : 0;
            return words != 0;
        }
        return _pages.TryGetValue(page, out words);
    }

    /// <summary>The word of a page that holds <paramref name="address"/>. Every page has exactly 4096 / 8 words and the
    /// index is masked below that.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref ulong Word(nint words, ulong address) => ref ((ulong*)words)[(address & PageMask) >> 3];

    /// <summary>Reads the word at <paramref name="address"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Read(ulong address)
    {
        ulong d = address - _denseBase;
        ulong value;
        if (d < _hostBytes)
        {
            value = *(ulong*)(_hostBase + d);
        }
        else
        {
            ulong page = address >> PageShift;
            if (_cacheKeys[(int)(page & (CacheSize - 1))] == page + 1)
                value = Word(_cachePages[(int)(page & (CacheSize - 1))], address);
            else
                value = ReadSlow(address);
        }
        // The host memory is freed when this object is finalized: it stays reachable until the access is done.
        GC.KeepAlive(this);
        return value;
    }

    /// <summary>
    /// A hint that the word at <paramref name="address"/> will be read soon: on x86 the cache line holding it is prefetched
    /// when it lies in the break area's block; elsewhere (and on other hosts) nothing happens. Reads and writes nothing
    /// simulated, so any address is allowed, a stale or never mapped one included.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(ulong address)
    {
        if (Sse.IsSupported)
        {
            ulong d = address - _denseBase;
            if (d < _hostBytes)
                Sse.Prefetch0(_hostBase + d);
        }
        GC.KeepAlive(this);
    }

    /// <summary>Writes the word at <paramref name="address"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(ulong address, ulong value)
    {
        ulong d = address - _denseBase;
        if (d < _hostBytes)
        {
            // The bitmap has a word for every 64 pages of the block, so the index is in range.
            ulong bits = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_written), (nint)(d >> (PageShift + 6)));
            if ((bits & (1UL << (int)((d >> PageShift) & 63))) != 0)
                *(ulong*)(_hostBase + d) = value;
            else
                WriteSlow(address, value);
        }
        else
        {
            ulong page = address >> PageShift;
            if (_cacheKeys[(int)(page & (CacheSize - 1))] == page + 1)
                Word(_cachePages[(int)(page & (CacheSize - 1))], address) = value;
            else
                WriteSlow(address, value);
        }
        GC.KeepAlive(this);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private ulong ReadSlow(ulong address)
    {
        ulong page = address >> PageShift;
        if (!TryGetPage(page, out var words))
            return 0;
        if (page - _denseBasePage >= DenseMaxPages)
            Cache(page, words);
        return Word(words, address);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void WriteSlow(ulong address, ulong value)
    {
        ulong page = address >> PageShift;
        ulong d = page - _denseBasePage;
        if (d < DenseMaxPages)
        {
            DenseMaterialize(d);
            *(ulong*)(_hostBase + (address - _denseBase)) = value;
            return;
        }
        var words = GetOrCreate(page);
        Word(words, address) = value;
    }

    /// <summary>The host page of a page outside the break area's block, created (and reported resident) if needed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private nint GetOrCreate(ulong page)
    {
        if (!_pages.TryGetValue(page, out var words))
        {
            words = _store.Take();
            _pages.Add(page, words);
            _residency.MarkPage(page);
        }
        Cache(page, words);
        return words;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Cache(ulong page, nint words)
    {
        int slot = (int)(page & (CacheSize - 1));
        _cacheKeys[slot] = page + 1;
        _cachePages[slot] = words;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Uncache(ulong page)
    {
        int slot = (int)(page & (CacheSize - 1));
        if (_cacheKeys[slot] == page + 1)
        {
            _cacheKeys[slot] = 0;
            _cachePages[slot] = 0;
        }
    }

    /// <summary>Whether the page holding <paramref name="address"/> has been written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool IsMaterialized(ulong address) => TryGetPage(address >> PageShift, out _);

    /// <summary>
    /// Forgets [address, address+length): whole pages are dropped (read as zeros again), partial pages at
    /// the ends are zeroed word by word. Used by munmap, trimming and MADV_DONTNEED.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Discard(ulong address, ulong length)
    {
        DiscardRange(address, length);
        GC.KeepAlive(this);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DiscardRange(ulong address, ulong length)
    {
        if (length == 0)
            return;
        ulong end = address + length;
        ulong firstFull = (address + PageMask) & ~PageMask, endFull = end & ~PageMask;
        if (firstFull >= endFull)
        {
            ZeroWords(address, end);
            return;
        }
        ZeroWords(address, firstFull);
        ZeroWords(endFull, end);
        if (((endFull - firstFull) >> PageShift) > (ulong)PageCount * 4)
        {
            DiscardSparse(firstFull, endFull);
            return;
        }
        for (ulong page = firstFull >> PageShift; page < endFull >> PageShift; page++)
            DropPage(page);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ZeroWords(ulong from, ulong end)
    {
        for (ulong w = from & ~7UL; w < end; w += 8)
            if (TryGetPage(w >> PageShift, out var words))
                Word(words, w) = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DropPage(ulong page)
    {
        ulong d = page - _denseBasePage;
        if (d < DenseMaxPages)
        {
            DenseDrop(d);
            return;
        }
        if (_pages.Remove(page, out var words))
        {
            Uncache(page);
            _store.Give(words);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DiscardSparse(ulong from, ulong end)
    {
        List<ulong> doomed = _doomedScratch;
        doomed.Clear();
        foreach (var page in _pages.Keys)
        {
            ulong start = page << PageShift;
            if (start >= from && start + (1UL << PageShift) <= end)
                doomed.Add(page);
        }
        for (ulong d = 0; d < (_hostBytes >> PageShift); d++)
        {
            ulong start = (d + _denseBasePage) << PageShift;
            if (DenseWritten(d) && start >= from && start + (1UL << PageShift) <= end)
                doomed.Add(d + _denseBasePage);
        }
        foreach (var page in doomed)
            DropPage(page);
        doomed.Clear();
    }

    /// <summary>Takes a materialised page out of the memory for a move: a page of the block is copied to a store page
    /// first (the block's page is dropped); false when the page was never written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool DetachPage(ulong page, out nint words)
    {
        ulong d = page - _denseBasePage;
        if (d < DenseMaxPages)
        {
            words = 0;
            if (!DenseWritten(d))
                return false;
            words = _store.Take();
            NativeMemory.Copy(_hostBase + (d << PageShift), (void*)words, 1u << PageShift);
            DenseDrop(d);
            return true;
        }
        if (!_pages.Remove(page, out words))
            return false;
        Uncache(page);
        return true;
    }

    /// <summary>Puts a page detached by <see cref="DetachPage"/> back at <paramref name="page"/> (copied into the block there).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AttachPage(ulong page, nint words)
    {
        ulong d = page - _denseBasePage;
        if (d < DenseMaxPages)
        {
            DenseMaterialize(d);
            NativeMemory.Copy((void*)words, _hostBase + (d << PageShift), 1u << PageShift);
            _store.Give(words);
            return;
        }
        _pages.Add(page, words);
    }

    /// <summary>Moves the materialised pages of a page-aligned range (mremap moving a mapping).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MovePages(ulong from, ulong to, ulong length)
    {
        List<(ulong Page, nint Words)> moved = _movedScratch;
        moved.Clear();
        ulong first = from >> PageShift, end = (from + length + PageMask) >> PageShift;
        if (end - first <= (ulong)_pages.Count * 2 || first - _denseBasePage < DenseMaxPages)
        {
            for (ulong p = first; p < end; p++)
                if (DetachPage(p, out var w))
                    moved.Add((p, w));
        }
        else
        {
            foreach (var p in _pages.Keys)
                if (p >= first && p < end)
                    moved.Add((p, _pages[p]));
            foreach (var (p, _) in moved)
            {
                _pages.Remove(p);
                Uncache(p);
            }
        }
        foreach (var (p, w) in moved)
        {
            ulong np = p - first + (to >> PageShift);
            AttachPage(np, w);
            _residency.MarkPage(np);
        }
        moved.Clear();
        GC.KeepAlive(this);
    }
}
