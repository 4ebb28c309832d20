using System.Numerics;
using System.Runtime.CompilerServices;

namespace PtReplay.Allocator.Memory;

/// <summary>
/// Which simulated pages are resident (count towards RSS).
/// Rules: a page becomes resident when the allocator writes metadata into it, reads or writes it for the
/// program (calloc's memset, realloc's copy, perturb) or the program touches it (under the <see cref="TouchModel"/>);
/// it stops being resident when it is unmapped, trimmed from the break, or madvise(MADV_DONTNEED)-ed.
/// Page numbers are address / page size. Pages of the break area (from brk0 up to 4 GiB) are kept in a
/// bitmap, others in a hash set.
/// </summary>
public sealed class PageResidency
{
    private const ulong DenseMaxPages = 1UL << 20;
    private readonly HashSet<ulong> _resident = [];
    private readonly ulong _pageSize;
    private readonly int _pageShift;
    private readonly ulong _denseBase;
    private ulong[] _bits = new ulong[16];
    private ulong _denseCount;

    /// <summary>Creates an empty residency set; <paramref name="denseBase"/> starts the bitmap-backed range (brk0).</summary>
    public PageResidency(ulong pageSize, ulong denseBase = 0)
    {
        _pageSize = pageSize;
        _pageShift = BitOperations.TrailingZeroCount(pageSize);
        _denseBase = denseBase >> _pageShift;
    }

    /// <summary>Resident bytes.</summary>
    public ulong ResidentBytes => ((ulong)_resident.Count + _denseCount) * _pageSize;

    /// <summary>Marks one page (by page number) resident.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkPage(ulong pageNumber)
    {
        ulong d = pageNumber - _denseBase;
        if (d < DenseMaxPages)
        {
            ulong w = d >> 6;
            if (w >= (ulong)_bits.Length)
                Grow(w);
            ulong bit = 1UL << (int)(d & 63);
            if ((_bits[w] & bit) == 0)
            {
                _bits[w] |= bit;
                _denseCount++;
            }
            return;
        }
        _resident.Add(pageNumber);
    }

    /// <summary>Sizes the bitmap for <paramref name="pages"/> pages above brk0 ahead of need (host memory only).</summary>
    public void ReserveDense(ulong pages)
    {
        ulong words = (Math.Min(pages, DenseMaxPages) + 63) >> 6;
        if (words > (ulong)_bits.Length)
            Array.Resize(ref _bits, (int)words);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private void Grow(ulong word) => Array.Resize(ref _bits, (int)Math.Max(word + 1, (ulong)_bits.Length * 2));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool IsPageResident(ulong pageNumber)
    {
        ulong d = pageNumber - _denseBase;
        if (d < DenseMaxPages)
        {
            ulong w = d >> 6;
            return w < (ulong)_bits.Length && (_bits[w] & (1UL << (int)(d & 63))) != 0;
        }
        return _resident.Contains(pageNumber);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DropPage(ulong pageNumber)
    {
        ulong d = pageNumber - _denseBase;
        if (d < DenseMaxPages)
        {
            ulong w = d >> 6;
            ulong bit = 1UL << (int)(d & 63);
            if (w < (ulong)_bits.Length && (_bits[w] & bit) != 0)
            {
                _bits[w] &= ~bit;
                _denseCount--;
            }
            return;
        }
        _resident.Remove(pageNumber);
    }

    /// <summary>Whether the page holding <paramref name="address"/> is resident.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool IsResident(ulong address) => IsPageResident(address >> _pageShift);

    /// <summary>Resident pages among those overlapping [address, address+length).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong CountRange(ulong address, ulong length)
    {
        if (length == 0)
            return 0;
        ulong first = address >> _pageShift, last = (address + length - 1) >> _pageShift, n = 0;
        if (last - first > (ulong)_resident.Count + ((ulong)_bits.Length << 6))
        {
            foreach (var p in _resident)
                if (p >= first && p <= last)
                    n++;
            for (ulong d = 0; d < ((ulong)_bits.Length << 6); d++)
                if ((_bits[d >> 6] & (1UL << (int)(d & 63))) != 0 && d + _denseBase >= first && d + _denseBase <= last)
                    n++;
            return n;
        }
        for (ulong p = first; p <= last; p++)
            if (IsPageResident(p))
                n++;
        return n;
    }

    /// <summary>Touches every page of [address, address+length).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void TouchRange(ulong address, ulong length)
    {
        if (length == 0)
            return;
        ulong first = address >> _pageShift, last = (address + length - 1) >> _pageShift;
        for (ulong p = first; p <= last; p++)
            MarkPage(p);
    }

    /// <summary>Drops every page lying completely inside [address, address+length) (page-aligned ranges in practice).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void DropRange(ulong address, ulong length)
    {
        if (length == 0)
            return;
        ulong first = (address + _pageSize - 1) >> _pageShift, end = (address + length) >> _pageShift;
        if (end <= first)
            return;
        if (end - first > (ulong)_resident.Count * 4 + 4096)
        {
            DropSparse(first, end);
            return;
        }
        for (ulong p = first; p < end; p++)
            DropPage(p);
    }

    /// <summary>
    /// Drops pages [first, end) of a range far larger than the resident set by walking the set instead of the range. A method
    /// of its own: the filter's closure is allocated only here, never on <see cref="DropRange"/>'s common path.
    /// </summary>
    private void DropSparse(ulong first, ulong end)
    {
        _resident.RemoveWhere(p => p >= first && p < end && p - _denseBase >= DenseMaxPages);
        ulong lo = Math.Max(first, _denseBase), hi = Math.Min(end, _denseBase + ((ulong)_bits.Length << 6));
        for (ulong p = lo; p < hi; p++)
            DropPage(p);
    }
}
