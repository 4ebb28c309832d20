using System.Runtime.CompilerServices;

namespace PtReplay.Allocator.Memory;

/// <summary>
/// The simulated process memory, as sparse 4 KiB pages of 64-bit words. All allocator metadata (chunk
/// headers, fd/bk links, arena bins, heap_info) lives here, in-band, exactly where glibc keeps it.
/// Invariants: addresses are 8-byte aligned; a page never written reads as zeros and costs nothing;
/// pages are created on first write and reported resident to <see cref="PageResidency"/>.
/// A small direct-mapped cache of page arrays keeps steady-state access allocation-free and fast.
/// </summary>
public sealed class SimulatedMemory
{
    private const int PageShift = 12;
    private const ulong PageMask = (1UL << PageShift) - 1;
    private const int CacheSize = 256;

    private readonly Dictionary<ulong, ulong[]> _pages = [];
    private readonly ulong[] _cacheKeys = new ulong[CacheSize];
    private readonly ulong[]?[] _cachePages = new ulong[]?[CacheSize];
    private readonly Stack<ulong[]> _spare = new();
    private readonly PageResidency _residency;

    /// <summary>Creates an empty memory that reports materialised pages to <paramref name="residency"/>.</summary>
    public SimulatedMemory(PageResidency residency) => _residency = residency;

    /// <summary>Number of materialised pages.</summary>
    public int PageCount => _pages.Count;

    /// <summary>Reads the word at <paramref name="address"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong Read(ulong address)
    {
        ulong page = address >> PageShift;
        int slot = (int)(page & (CacheSize - 1));
        if (_cacheKeys[slot] == page + 1)
            return _cachePages[slot]![(address & PageMask) >> 3];
        return ReadSlow(address);
    }

    /// <summary>Writes the word at <paramref name="address"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Write(ulong address, ulong value)
    {
        ulong page = address >> PageShift;
        int slot = (int)(page & (CacheSize - 1));
        if (_cacheKeys[slot] == page + 1)
        {
            _cachePages[slot]![(address & PageMask) >> 3] = value;
            return;
        }
        WriteSlow(address, value);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private ulong ReadSlow(ulong address)
    {
        ulong page = address >> PageShift;
        if (!_pages.TryGetValue(page, out var words))
            return 0;
        Cache(page, words);
        return words[(address & PageMask) >> 3];
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WriteSlow(ulong address, ulong value)
    {
        ulong page = address >> PageShift;
        var words = GetOrCreate(page);
        words[(address & PageMask) >> 3] = value;
    }

    private ulong[] GetOrCreate(ulong page)
    {
        if (!_pages.TryGetValue(page, out var words))
        {
            words = _spare.Count > 0 ? _spare.Pop() : new ulong[1 << (PageShift - 3)];
            _pages.Add(page, words);
            _residency.MarkPage(page);
        }
        Cache(page, words);
        return words;
    }

    private void Cache(ulong page, ulong[] words)
    {
        int slot = (int)(page & (CacheSize - 1));
        _cacheKeys[slot] = page + 1;
        _cachePages[slot] = words;
    }

    private void Uncache(ulong page)
    {
        int slot = (int)(page & (CacheSize - 1));
        if (_cacheKeys[slot] == page + 1)
        {
            _cacheKeys[slot] = 0;
            _cachePages[slot] = null;
        }
    }

    /// <summary>Whether the page holding <paramref name="address"/> has been written.</summary>
    public bool IsMaterialized(ulong address) => _pages.ContainsKey(address >> PageShift);

    /// <summary>
    /// Forgets [address, address+length): whole pages are dropped (read as zeros again), partial pages at
    /// the ends are zeroed word by word. Used by munmap, trimming and MADV_DONTNEED.
    /// </summary>
    public void Discard(ulong address, ulong length)
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
        if (((endFull - firstFull) >> PageShift) > (ulong)_pages.Count * 4)
        {
            DiscardSparse(firstFull, endFull);
            return;
        }
        for (ulong page = firstFull >> PageShift; page < endFull >> PageShift; page++)
            DropPage(page);
    }

    private void ZeroWords(ulong from, ulong end)
    {
        for (ulong w = from & ~7UL; w < end; w += 8)
            if (_pages.TryGetValue(w >> PageShift, out var words))
                words[(w & PageMask) >> 3] = 0;
    }

    private void DropPage(ulong page)
    {
        if (_pages.Remove(page, out var words))
        {
            Uncache(page);
            Array.Clear(words);
            _spare.Push(words);
        }
    }

    private void DiscardSparse(ulong from, ulong end)
    {
        var doomed = new List<ulong>();
        foreach (var page in _pages.Keys)
        {
            ulong start = page << PageShift;
            if (start >= from && start + (1UL << PageShift) <= end)
                doomed.Add(page);
        }
        foreach (var page in doomed)
            DropPage(page);
    }

    /// <summary>Moves the materialised pages of a page-aligned range (mremap moving a mapping).</summary>
    public void MovePages(ulong from, ulong to, ulong length)
    {
        var moved = new List<(ulong Page, ulong[] Words)>();
        ulong first = from >> PageShift, end = (from + length + PageMask) >> PageShift;
        if (end - first <= (ulong)_pages.Count * 2)
        {
            for (ulong p = first; p < end; p++)
                if (_pages.Remove(p, out var w))
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
            _pages[np] = w;
            _residency.MarkPage(np);
        }
    }
}
