using System.Runtime.CompilerServices;

namespace PtReplay.Allocator.Memory;

/// <summary>
/// The simulated process memory, as sparse 4 KiB pages of 64-bit words. All allocator metadata (chunk
/// headers, fd/bk links, arena bins, heap_info) lives here, in-band, exactly where glibc keeps it.
/// Invariants: addresses are 8-byte aligned; a page never written reads as zeros and costs nothing;
/// pages are created on first write and reported resident to <see cref="PageResidency"/>.
/// A small direct-mapped cache of pages keeps steady-state access fast. The pages' host memory is native
/// (<see cref="HostPageStore"/>, a page is its address there; 0 is no page), so a call that writes a new page allocates
/// nothing on the managed heap; only the page tables grow, by doubling.
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

    /// <summary>Pages of the break area (from brk0 up, at most 4 GiB) live in a dense array instead of the dictionary.</summary>
    private const ulong DenseMaxPages = 1UL << 20;
    private readonly ulong _denseBasePage;
    private nint[] _dense = new nint[64];
    private int _denseCount;

    /// <summary>Creates an empty memory that reports materialised pages to <paramref name="residency"/>;
    /// <paramref name="denseBase"/> starts the range served by the fast dense page table (the break area).</summary>
    public SimulatedMemory(PageResidency residency, ulong denseBase = 0)
    {
        _residency = residency;
        _denseBasePage = denseBase >> PageShift;
    }

    /// <summary>
    /// Allocates the host memory of <paramref name="pages"/> pages ahead of need: the next pages written take it instead of
    /// allocating, and the page tables of the break area (this memory's and the residency's) are sized for that many pages
    /// above brk0. Nothing simulated changes: a spare page is all zeros, as a page never written reads.
    /// </summary>
    public void ReserveSpare(int pages)
    {
        _store.Reserve(pages);
        if ((ulong)pages > (ulong)_dense.Length)
            Array.Resize(ref _dense, (int)Math.Min(DenseMaxPages, (ulong)pages));
        _residency.ReserveDense((ulong)pages);
    }

    /// <summary>Number of materialised pages.</summary>
    public int PageCount => _pages.Count + _denseCount;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryGetPage(ulong page, out nint words)
    {
        ulong d = page - _denseBasePage;
        if (d < DenseMaxPages)
        {
            words = d < (ulong)_dense.Length ? _dense[d] : 0;
            return words != 0;
        }
        return _pages.TryGetValue(page, out words);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddPage(ulong page, nint words)
    {
        ulong d = page - _denseBasePage;
        if (d < DenseMaxPages)
        {
            if (d >= (ulong)_dense.Length)
                Array.Resize(ref _dense, (int)Math.Min(DenseMaxPages, Math.Max(d + 1, (ulong)_dense.Length * 2)));
            _dense[d] = words;
            _denseCount++;
            return;
        }
        _pages.Add(page, words);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool RemovePage(ulong page, out nint words)
    {
        ulong d = page - _denseBasePage;
        if (d < DenseMaxPages)
        {
            words = d < (ulong)_dense.Length ? _dense[d] : 0;
            if (words == 0)
                return false;
            _dense[d] = 0;
            _denseCount--;
            return true;
        }
        return _pages.Remove(page, out words);
    }

    /// <summary>The word of a page that holds <paramref name="address"/>. Every page has exactly 4096 / 8 words and the
    /// index is masked below that.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref ulong Word(nint words, ulong address) => ref ((ulong*)words)[(address & PageMask) >> 3];

    /// <summary>Reads the word at <paramref name="address"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Read(ulong address)
    {
        ulong page = address >> PageShift;
        ulong d = page - _denseBasePage;
        var dense = _dense;
        ulong value;
        nint words;
        if (d < (ulong)dense.Length && (words = dense[d]) != 0)
            value = Word(words, address);
        else if (_cacheKeys[(int)(page & (CacheSize - 1))] == page + 1)
            value = Word(_cachePages[(int)(page & (CacheSize - 1))], address);
        else
            value = ReadSlow(address);
        // The host pages are freed when this object is finalized: it stays reachable until the access is done.
        GC.KeepAlive(this);
        return value;
    }

    /// <summary>Writes the word at <paramref name="address"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(ulong address, ulong value)
    {
        ulong page = address >> PageShift;
        ulong d = page - _denseBasePage;
        var dense = _dense;
        nint words;
        if (d < (ulong)dense.Length && (words = dense[d]) != 0)
            Word(words, address) = value;
        else if (_cacheKeys[(int)(page & (CacheSize - 1))] == page + 1)
            Word(_cachePages[(int)(page & (CacheSize - 1))], address) = value;
        else
            WriteSlow(address, value);
        GC.KeepAlive(this);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private ulong ReadSlow(ulong address)
    {
        ulong page = address >> PageShift;
        if (!TryGetPage(page, out var words))
            return 0;
        Cache(page, words);
        return Word(words, address);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void WriteSlow(ulong address, ulong value)
    {
        ulong page = address >> PageShift;
        var words = GetOrCreate(page);
        Word(words, address) = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private nint GetOrCreate(ulong page)
    {
        if (!TryGetPage(page, out var words))
        {
            words = _store.Take();
            AddPage(page, words);
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
        if (RemovePage(page, out var words))
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
        for (int d = 0; d < _dense.Length; d++)
        {
            ulong start = ((ulong)d + _denseBasePage) << PageShift;
            if (_dense[d] != 0 && start >= from && start + (1UL << PageShift) <= end)
                doomed.Add((ulong)d + _denseBasePage);
        }
        foreach (var page in doomed)
            DropPage(page);
        doomed.Clear();
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
                if (RemovePage(p, out var w))
                {
                    Uncache(p);
                    moved.Add((p, w));
                }
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
            AddPage(np, w);
            _residency.MarkPage(np);
        }
        moved.Clear();
    }
}
