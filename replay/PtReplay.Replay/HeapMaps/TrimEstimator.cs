using PtReplay.Allocator;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Results.HeapMaps;
using PtReplay.Traces;

namespace PtReplay.Replay.HeapMaps;

/// <summary>What malloc_trim(0) would give back after a number of ops: a model replayed to that op, then trimmed.</summary>
public static class TrimEstimator
{
    /// <summary>Replays a model to <paramref name="ops"/>, calls malloc_trim(0) on it and measures what it gave back.</summary>
    public static HeapMapTrim Estimate(PreparedTrace prepared, TraceHeader header, ReplayOptions options, string? tunables, long ops)
    {
        (Ptmalloc model, _, _) = SimSnapshot.Run(prepared, header, options, tunables, new SimStop(SimStopKind.AfterOps, ops));
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
