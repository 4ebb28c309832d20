using PtReplay.Allocator.Bins;
using PtReplay.Allocator.Chunks;

namespace PtReplay.Allocator.Tunables;

/// <summary>
/// The process-wide malloc parameters (glibc's <c>mp_</c> plus <c>global_max_fast</c> and <c>perturb_byte</c>).
/// Invariant: once any of trim_threshold, top_pad, mmap_threshold or mmap_max is set explicitly,
/// <see cref="NoDynamicThreshold"/> stays true and freeing mmapped chunks no longer moves the thresholds.
/// </summary>
internal sealed class MallocParams
{
    /// <summary>Upper bound of the dynamic mmap threshold (32 MiB on 64-bit).</summary>
    public const ulong DefaultMmapThresholdMax = 4UL * 1024 * 1024 * sizeof(long);
    /// <summary>Largest value mxfast accepts (80 * SIZE_SZ / 4).</summary>
    public const ulong MaxFastSize = 160;
    /// <summary>Largest tcache request size (tidx2usize(63)).</summary>
    public const ulong MaxTcacheSize = 1032;
    /// <summary>Largest tcache count.</summary>
    public const ulong MaxTcacheCount = ushort.MaxValue;

    public ulong TrimThreshold = 128 * 1024;
    public ulong TopPad = 128 * 1024;
    public ulong MmapThreshold = 128 * 1024;
    public ulong ArenaTest = 8;
    public ulong ArenaMax;
    public int MmapsMax = 65536;
    public bool NoDynamicThreshold;
    public int NMmaps;
    public int MaxNMmaps;
    public ulong MmappedMem;
    public ulong MaxMmappedMem;
    public ulong SbrkBase;
    public ulong TcacheBins = Tcache.MaxBins;
    public ulong TcacheMaxBytes = MaxTcacheSize;
    public ulong TcacheCount = 7;
    public ulong TcacheUnsortedLimit;
    public ulong GlobalMaxFast;
    public int PerturbByte;
    /// <summary>mp_.thp_pagesize: 2 MiB under glibc.malloc.hugetlb=1 with THP in madvise mode, else 0.</summary>
    public ulong ThpPageSize;

    public MallocParams() => SetMaxFast(128);

    /// <summary>glibc's set_max_fast: 0 disables fastbins (max below the smallest chunk).</summary>
    public void SetMaxFast(ulong s) =>
        GlobalMaxFast = s == 0 ? Chunk.MinSize / 2 : (s + Chunk.SizeSz) & ~Chunk.AlignMask;

    public void SetTrimThreshold(ulong v) { TrimThreshold = v; NoDynamicThreshold = true; }
    public void SetTopPad(ulong v) { TopPad = v; NoDynamicThreshold = true; }
    public void SetMmapThreshold(ulong v) { MmapThreshold = v; NoDynamicThreshold = true; }
    public void SetMmapsMax(int v) { MmapsMax = v; NoDynamicThreshold = true; }

    public bool SetTcacheMax(ulong v)
    {
        if (v > MaxTcacheSize)
            return false;
        TcacheMaxBytes = v;
        TcacheBins = BinIndex.TcacheIndex(Chunk.RequestToSize(v)) + 1;
        return true;
    }

    public bool SetTcacheCount(ulong v)
    {
        if (v > MaxTcacheCount)
            return false;
        TcacheCount = v;
        return true;
    }

    public bool SetMxFast(ulong v)
    {
        if (v > MaxFastSize)
            return false;
        SetMaxFast(v);
        return true;
    }

    /// <summary>Applies the tunables the way ptmalloc_init does: only those explicitly set.</summary>
    public void Apply(MallocTunables t, bool thpMadviseMode = true)
    {
        if (t.Get(TunableId.Hugetlb) == 1 && thpMadviseMode)
            ThpPageSize = 2UL * 1024 * 1024;
        if (t.Get(TunableId.TopPad) is { } topPad) SetTopPad(topPad);
        if (t.Get(TunableId.Perturb) is { } perturb) PerturbByte = (int)perturb;
        if (t.Get(TunableId.MmapThreshold) is { } mt) SetMmapThreshold(mt);
        if (t.Get(TunableId.TrimThreshold) is { } tt) SetTrimThreshold(tt);
        if (t.Get(TunableId.MmapMax) is { } mm) SetMmapsMax((int)mm);
        if (t.Get(TunableId.ArenaMax) is { } am) ArenaMax = am;
        if (t.Get(TunableId.ArenaTest) is { } at) ArenaTest = at;
        if (t.Get(TunableId.TcacheMax) is { } tm) SetTcacheMax(tm);
        if (t.Get(TunableId.TcacheCount) is { } tc) SetTcacheCount(tc);
        if (t.Get(TunableId.TcacheUnsortedLimit) is { } tu) TcacheUnsortedLimit = tu;
        if (t.Get(TunableId.MxFast) is { } mx) SetMxFast(mx);
    }
}
