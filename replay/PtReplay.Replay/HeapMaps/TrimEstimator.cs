using PtReplay.Allocator;
using PtReplay.Results.HeapMaps;

namespace PtReplay.Replay.HeapMaps;

/// <summary>What malloc_trim(0) would give back at a moment of a replay.</summary>
public static class TrimEstimator
{
    /// <summary>
    /// Calls malloc_trim(0) on <paramref name="model"/> and measures what it gave back. It changes the model: call it last,
    /// after the heap walk and the other reads of that moment (which change nothing).
    /// </summary>
    public static HeapMapTrim TrimAndMeasure(Ptmalloc model)
    {
        ArgumentNullException.ThrowIfNull(model);
        MemoryFootprint before = model.Footprint;
        model.MallocTrim(0, 0);
        MemoryFootprint after = model.Footprint;
        return new HeapMapTrim
        {
            CommittedBytes = before.CommittedBytes - Math.Min(before.CommittedBytes, after.CommittedBytes),
            ResidentBytes = before.ResidentBytes - Math.Min(before.ResidentBytes, after.ResidentBytes),
        };
    }
}
