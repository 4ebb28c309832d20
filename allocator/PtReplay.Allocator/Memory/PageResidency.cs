namespace PtReplay.Allocator.Memory;

/// <summary>
/// Which simulated pages are resident (count towards RSS).
/// Rules: a page becomes resident when the allocator writes metadata into it or the program touches it
/// (under the <see cref="TouchModel"/>); it stops being resident when it is unmapped, trimmed from the
/// break, or madvise(MADV_DONTNEED)-ed. Page numbers are address >> 12.
/// </summary>
public sealed class PageResidency
{
    private readonly HashSet<ulong> _resident = [];
    private readonly ulong _pageSize;

    /// <summary>Creates an empty residency set.</summary>
    public PageResidency(ulong pageSize) => _pageSize = pageSize;

    /// <summary>Resident bytes.</summary>
    public ulong ResidentBytes => (ulong)_resident.Count * _pageSize;

    /// <summary>Marks one page (by page number) resident.</summary>
    public void MarkPage(ulong pageNumber) => _resident.Add(pageNumber);

    /// <summary>Whether the page holding <paramref name="address"/> is resident.</summary>
    public bool IsResident(ulong address) => _resident.Contains(address / _pageSize);

    /// <summary>Resident pages among those overlapping [address, address+length).</summary>
    public ulong CountRange(ulong address, ulong length)
    {
        if (length == 0)
            return 0;
        ulong first = address / _pageSize, last = (address + length - 1) / _pageSize, n = 0;
        if (last - first > (ulong)_resident.Count)
        {
            foreach (var p in _resident)
                if (p >= first && p <= last)
                    n++;
            return n;
        }
        for (ulong p = first; p <= last; p++)
            if (_resident.Contains(p))
                n++;
        return n;
    }

    /// <summary>Touches every page of [address, address+length).</summary>
    public void TouchRange(ulong address, ulong length)
    {
        if (length == 0)
            return;
        ulong first = address / _pageSize, last = (address + length - 1) / _pageSize;
        for (ulong p = first; p <= last; p++)
            _resident.Add(p);
    }

    /// <summary>Drops every page lying completely inside [address, address+length) (page-aligned ranges in practice).</summary>
    public void DropRange(ulong address, ulong length)
    {
        if (length == 0)
            return;
        ulong first = (address + _pageSize - 1) / _pageSize, end = (address + length) / _pageSize;
        if (end <= first)
            return;
        if (end - first > (ulong)_resident.Count * 4)
        {
            _resident.RemoveWhere(p => p >= first && p < end);
            return;
        }
        for (ulong p = first; p < end; p++)
            _resident.Remove(p);
    }
}
