using System.Numerics;
using PtReplay.Allocator.Diagnostics;
using PtReplay.Replay.HeapMaps;
using PtReplay.Replay.Preparation;
using PtReplay.Results.Findings;

namespace PtReplay.Replay.Findings;

/// <summary>
/// Internal against external fragmentation per chunk size class (power-of-two classes of chunk size): for the live chunks
/// of a class, the bytes their callers requested and the chunk bytes (the difference is the header and the rounding to
/// 16 bytes, or the page rounding of an mmapped chunk: internal fragmentation); for the free chunks of the class (tcache,
/// fastbins, bins; top excluded), their bytes (external fragmentation: memory held but not in use). Chunks the replay did
/// not allocate from the trace (the allocator's own tcache block, a preamble) are left out.
/// Invariant: the classes' free bytes add up to the heap's free bytes.
/// </summary>
public static class SizeClassFragmentation
{
    /// <summary>The classes of <paramref name="snapshot"/> with live or free chunks, smallest first.</summary>
    public static IReadOnlyList<SizeClassFigures> Compute(HeapSnapshot snapshot, LiveBlockAges ages, PreparedFile file)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(ages);
        ArgumentNullException.ThrowIfNull(file);
        var rows = new SortedDictionary<int, (long Live, ulong Requested, ulong Chunk, long Free, ulong FreeBytes)>();
        foreach (HeapRegion r in snapshot.Regions)
        {
            foreach (HeapChunk c in r.Chunks)
            {
                int k = BitOperations.Log2(Math.Max(1, c.Size));
                var row = rows.GetValueOrDefault(k);
                if (c.State is ChunkState.InUse or ChunkState.Mmapped)
                {
                    long op = ages.SizedBy(c.Address + 16);
                    if (op < 0)
                    {
                        continue;
                    }

                    row = (row.Live + 1, row.Requested + file.Op(op).RequestedBytes, row.Chunk + c.Size, row.Free, row.FreeBytes);
                }
                else if (HeapMapBuilder.IsFree(c.State))
                {
                    row = (row.Live, row.Requested, row.Chunk, row.Free + 1, row.FreeBytes + c.Size);
                }
                else
                {
                    continue;
                }

                rows[k] = row;
            }
        }

        return [.. rows.Select(kv => new SizeClassFigures
        {
            MinChunkBytes = 1UL << kv.Key,
            MaxChunkBytes = kv.Key >= 63 ? ulong.MaxValue : (1UL << (kv.Key + 1)) - 1,
            LiveChunks = kv.Value.Live,
            RequestedBytes = kv.Value.Requested,
            LiveChunkBytes = kv.Value.Chunk,
            FreeChunks = kv.Value.Free,
            FreeBytes = kv.Value.FreeBytes,
        })];
    }
}
