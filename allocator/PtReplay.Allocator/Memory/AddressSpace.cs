using System.Runtime.CompilerServices;
namespace PtReplay.Allocator.Memory;

/// <summary>
/// The simulated address space of the process: the program break and the mmap area.
/// <list type="bullet">
/// <item>The break starts at brk0 and moves by sbrk; memory given back by a negative sbrk is discarded.</item>
/// <item>Mappings are placed top-down below the mmap base, in the highest gap that fits (Linux's default
/// layout); anonymous mappings whose length is a multiple of 2 MiB are 2 MiB-aligned (THP alignment).</item>
/// <item>munmap/mremap/madvise(DONTNEED) discard page contents and residency; mprotect only changes
/// accounting (PROT_NONE reservations of arena heaps are not counted as committed).</item>
/// <item>Linux's heuristic overcommit (vm.overcommit_memory = 0) is modelled: a single break increase, private
/// writable mapping or mremap growth larger than <see cref="OvercommitLimit"/> (RAM + swap) fails with ENOMEM,
/// whatever the address space has room for. MAP_NORESERVE reservations (arena heaps) are not checked.</item>
/// </list>
/// </summary>
public sealed class AddressSpace
{
    private const ulong HugeAlign = 2UL * 1024 * 1024;

    /// <summary>Mappings sorted by start address (start, length).</summary>
    private readonly SortedList<ulong, ulong> _mappings = [];
    private readonly ulong _mmapBase;

    /// <summary>Creates the space with the break at <paramref name="brk0"/>.</summary>
    public AddressSpace(ulong brk0, ulong pageSize, ulong mmapBase, ulong overcommitLimit = ulong.MaxValue)
    {
        OvercommitLimit = overcommitLimit;
        Brk0 = brk0;
        Brk = brk0;
        PageSize = pageSize;
        _mmapBase = mmapBase;
        Residency = new PageResidency(pageSize, brk0);
        Memory = new SimulatedMemory(Residency, brk0);
    }

    /// <summary>Word memory of the whole space.</summary>
    public SimulatedMemory Memory { get; }

    /// <summary>Resident pages (RSS model).</summary>
    public PageResidency Residency { get; }

    /// <summary>The largest single commit the kernel grants (bytes; <see cref="ulong.MaxValue"/>: no limit).</summary>
    public ulong OvercommitLimit { get; }

    /// <summary>Initial program break.</summary>
    public ulong Brk0 { get; }

    /// <summary>Current program break.</summary>
    public ulong Brk { get; private set; }

    /// <summary>Page size.</summary>
    public ulong PageSize { get; }

    /// <summary>Bytes currently mapped with mmap (including PROT_NONE reservations).</summary>
    public ulong MappedBytes { get; private set; }

    /// <summary>MAP_FAILED / (void*)-1: what Mmap, Mremap and Sbrk return when the space is exhausted.</summary>
    public const ulong Failed = ulong.MaxValue;

    /// <summary>sbrk: moves the break by <paramref name="increment"/> and returns the old break, or
    /// <see cref="Failed"/> when the break would run into a mapping.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Sbrk(long increment)
    {
        ulong old = Brk;
        if (increment > 0)
        {
            if ((ulong)increment > OvercommitLimit)
                return Failed;
            ulong limit = _mappings.Count > 0 ? Math.Min(_mappings.Keys[0], _mmapBase) : _mmapBase;
            if ((ulong)increment > limit || Brk > limit - (ulong)increment)
                return Failed;
        }
        if (increment < 0)
        {
            ulong newBrk = Brk - (ulong)(-increment);
            ulong from = (newBrk + PageSize - 1) & ~(PageSize - 1);
            if (from < Brk)
            {
                Memory.Discard(from, Brk - from);
                Residency.DropRange(from, Brk - from);
            }
            Memory.Discard(newBrk, Math.Min(Brk, from) - newBrk);
            Brk = newBrk;
        }
        else
        {
            Brk += (ulong)increment;
        }
        return old;
    }

    /// <summary>mmap(addr hint or 0, length): returns the start, page-aligned, or <see cref="Failed"/> when no gap fits.
    /// A hint is honoured when the range is free. <paramref name="noReserve"/>: a PROT_NONE/MAP_NORESERVE
    /// reservation, exempt from the overcommit check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Mmap(ulong length, ulong hint = 0, bool noReserve = false)
    {
        if (length == 0 || length > _mmapBase || (!noReserve && length > OvercommitLimit))
            return Failed;
        length = (length + PageSize - 1) & ~(PageSize - 1);
        if (hint != 0 && IsFree(hint, length))
        {
            Insert(hint, length);
            return hint;
        }
        ulong align = length % HugeAlign == 0 ? HugeAlign : PageSize;
        ulong ceiling = _mmapBase;
        for (int i = _mappings.Count - 1; i >= -1; i--)
        {
            ulong floor = i >= 0 ? _mappings.Keys[i] + _mappings.Values[i] : PageSize * 16;
            if (ceiling >= length && ceiling - length >= floor)
            {
                ulong start = (ceiling - length) & ~(align - 1);
                if (start >= floor)
                {
                    Insert(start, length);
                    return start;
                }
            }
            if (i >= 0)
                ceiling = Math.Min(ceiling, _mappings.Keys[i]);
        }
        return Failed;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool IsFree(ulong start, ulong length)
    {
        if (start + length > _mmapBase)
            return false;
        foreach (var kv in _mappings)
            if (kv.Key < start + length && start < kv.Key + kv.Value)
                return false;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Insert(ulong start, ulong length)
    {
        _mappings.Add(start, length);
        MappedBytes += length;
    }

    /// <summary>The mappings (start, length) in address order; read-only (heap maps).</summary>
    internal IEnumerable<(ulong Start, ulong Length)> Mappings()
    {
        foreach (var kv in _mappings)
            yield return (kv.Key, kv.Value);
    }

    /// <summary>munmap: removes [start, start+length) from whatever mappings overlap it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Munmap(ulong start, ulong length)
    {
        length = (length + PageSize - 1) & ~(PageSize - 1);
        ulong end = start + length;
        Memory.Discard(start, length);
        Residency.DropRange(start, length);
        for (int i = _mappings.Count - 1; i >= 0; i--)
        {
            ulong ms = _mappings.Keys[i], me = ms + _mappings.Values[i];
            if (me <= start || ms >= end)
                continue;
            _mappings.RemoveAt(i);
            MappedBytes -= me - ms;
            if (ms < start)
                Insert(ms, start - ms);
            if (me > end)
                Insert(end, me - end);
        }
    }

    /// <summary>
    /// mremap(MREMAP_MAYMOVE): shrinks in place, grows in place when the following range is free,
    /// otherwise moves the mapping (contents and residency travel with it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong Mremap(ulong start, ulong oldLength, ulong newLength)
    {
        newLength = (newLength + PageSize - 1) & ~(PageSize - 1);
        if (newLength <= oldLength)
        {
            if (newLength < oldLength)
                Munmap(start + newLength, oldLength - newLength);
            return start;
        }
        if (newLength - oldLength > OvercommitLimit)
            return Failed;
        if (IsFree(start + oldLength, newLength - oldLength))
        {
            int idx = _mappings.IndexOfKey(start);
            _mappings.RemoveAt(idx);
            MappedBytes -= oldLength;
            Insert(start, newLength);
            return start;
        }
        ulong moved = Mmap(newLength, noReserve: true); // the kernel charges only the growth, checked above
        if (moved == Failed)
            return Failed;
        Memory.MovePages(start, moved, oldLength);
        Residency.DropRange(start, oldLength);
        _mappings.Remove(start);
        MappedBytes -= oldLength;
        return moved;
    }

    /// <summary>madvise(MADV_DONTNEED): contents read as zeros again and the pages leave RSS.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MadviseDontNeed(ulong start, ulong length)
    {
        Memory.Discard(start, length);
        Residency.DropRange(start, length);
    }

    /// <summary>Program touches [address, address+length) (page residency only).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Touch(ulong address, ulong length) => Residency.TouchRange(address, length);
}
