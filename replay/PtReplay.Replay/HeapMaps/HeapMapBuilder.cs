using PtReplay.Allocator;
using PtReplay.Allocator.Diagnostics;
using PtReplay.Results.HeapMaps;

namespace PtReplay.Replay.HeapMaps;

/// <summary>
/// Turns a <see cref="HeapSnapshot"/> of the model into <see cref="HeapMapFile"/>: bytes by state per heap and per arena,
/// the largest free chunk, free chunks per bin kind and size class, and bytes per state in address buckets
/// (<see cref="BucketsPerHeap"/> per heap, whatever its size, so a picture stays readable for a 1 GiB heap).
/// Invariant (checked, <see cref="InvalidOperationException"/> otherwise): each heap's bytes by state and each bucket row sum
/// to its extent.
/// </summary>
public static class HeapMapBuilder
{
    /// <summary>Address buckets per heap.</summary>
    public const int BucketsPerHeap = 512;

    /// <summary>The states of a heap, in the order of <see cref="HeapMapBuckets.Bytes"/>.</summary>
    public static IReadOnlyList<ChunkState> States { get; } =
        [ChunkState.InUse, ChunkState.Tcache, ChunkState.Fastbin, ChunkState.Unsorted, ChunkState.SmallBin, ChunkState.LargeBin, ChunkState.Top, ChunkState.Fencepost];

    /// <summary>The snake_case name of a state (also the bin kind names).</summary>
    public static string Name(ChunkState s) => s switch
    {
        ChunkState.InUse => "in_use",
        ChunkState.Tcache => "tcache",
        ChunkState.Fastbin => "fastbin",
        ChunkState.Unsorted => "unsorted",
        ChunkState.SmallBin => "small_bin",
        ChunkState.LargeBin => "large_bin",
        ChunkState.Top => "top",
        ChunkState.Mmapped => "mmapped",
        _ => "fencepost",
    };

    /// <summary>Free to the program: in a tcache, a fastbin or a bin (top excluded).</summary>
    public static bool IsFree(ChunkState s) => s is ChunkState.Tcache or ChunkState.Fastbin or ChunkState.Unsorted or ChunkState.SmallBin or ChunkState.LargeBin;

    /// <summary>Builds the file; <paramref name="map"/> supplies the moment's description (trace, at, ops ...).</summary>
    public static HeapMapFile Build(HeapSnapshot snapshot, MallInfo2 mallinfo, HeapMapFile map)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(map);
        var arenas = new List<HeapMapArena>();
        for (int a = 0; a < snapshot.ArenaCount; a++)
        {
            var heaps = new List<HeapMapHeap>();
            var total = new ulong[States.Count];
            ulong largest = 0, extent = 0;
            var kinds = new SortedDictionary<int, (long Count, ulong Bytes)>();
            var classes = new SortedDictionary<(int Kind, ulong Size), (long Count, ulong Bytes)>();
            foreach (HeapRegion r in snapshot.Regions)
            {
                if (r.Arena != a || r.Kind == "mmap")
                {
                    continue;
                }

                var bytes = new ulong[States.Count];
                ulong heapLargest = 0;
                foreach (HeapChunk c in r.Chunks)
                {
                    int s = StateIndex(c.State);
                    bytes[s] += c.Size;
                    if (IsFree(c.State))
                    {
                        heapLargest = Math.Max(heapLargest, c.Size);
                        var k = kinds.GetValueOrDefault(s);
                        kinds[s] = (k.Count + 1, k.Bytes + c.Size);
                        var sc = classes.GetValueOrDefault((s, c.Size));
                        classes[(s, c.Size)] = (sc.Count + 1, sc.Bytes + c.Size);
                    }
                }

                if (bytes.Aggregate(0UL, (x, y) => x + y) != r.Extent)
                {
                    throw new InvalidOperationException($"heap map: bytes by state of the heap at 0x{r.Start:x} do not add up to its extent");
                }

                for (int s = 0; s < total.Length; s++)
                {
                    total[s] += bytes[s];
                }

                largest = Math.Max(largest, heapLargest);
                extent += r.Extent;
                heaps.Add(new HeapMapHeap
                {
                    Kind = r.Kind,
                    Start = r.Start,
                    End = r.End,
                    Bytes = ToStateBytes(bytes),
                    LargestFreeChunk = heapLargest,
                    Buckets = Buckets(r),
                });
            }

            arenas.Add(new HeapMapArena
            {
                Arena = a,
                ExtentBytes = extent,
                Bytes = ToStateBytes(total),
                LargestFreeChunk = largest,
                BinKinds = [.. kinds.Select(kv => new HeapMapBinRow { Kind = Name(States[kv.Key]), Count = kv.Value.Count, Bytes = kv.Value.Bytes })],
                SizeClasses = [.. classes.Select(kv => new HeapMapBinRow { Kind = Name(States[kv.Key.Kind]), Size = kv.Key.Size, Count = kv.Value.Count, Bytes = kv.Value.Bytes })],
                Heaps = heaps,
            });
        }

        var mmaps = snapshot.Regions.Where(r => r.Kind == "mmap").ToList();
        return map with
        {
            States = [.. States.Select(Name)],
            Arenas = arenas,
            Mmapped = new HeapMapMmapped
            {
                Count = mmaps.Count,
                Bytes = mmaps.Aggregate(0UL, (x, r) => x + r.Extent),
                Largest = mmaps.Count == 0 ? 0 : mmaps.Max(r => r.Extent),
            },
            UnwalkedMainBytes = snapshot.UnwalkedMainBytes,
            Mallinfo2 = new HeapMapMallinfo { Arena = mallinfo.Arena, Uordblks = mallinfo.Uordblks, Fordblks = mallinfo.Fordblks, Hblkhd = mallinfo.Hblkhd },
        };
    }

    /// <summary>The index of <paramref name="s"/> in <see cref="States"/>; throws for a state that is not in an arena heap.</summary>
    public static int StateIndex(ChunkState s)
    {
        for (int i = 0; i < States.Count; i++)
        {
            if (States[i] == s)
            {
                return i;
            }
        }

        throw new InvalidOperationException($"heap map: state {s} inside an arena heap");
    }

    private static HeapMapStateBytes ToStateBytes(ulong[] b) => new()
    {
        InUse = b[0], Tcache = b[1], Fastbin = b[2], Unsorted = b[3], SmallBin = b[4], LargeBin = b[5], Top = b[6], Fencepost = b[7],
    };

    /// <summary>Bytes per state per bucket: a chunk spanning several buckets is split at bucket edges.</summary>
    private static HeapMapBuckets Buckets(HeapRegion r)
    {
        ulong width = Math.Max(16, (r.Extent + BucketsPerHeap - 1) / BucketsPerHeap);
        int n = (int)((r.Extent + width - 1) / width);
        var rows = new ulong[States.Count][];
        for (int s = 0; s < rows.Length; s++)
        {
            rows[s] = new ulong[n];
        }

        AddToBuckets(r, width, rows);
        return new HeapMapBuckets { BucketBytes = width, Bytes = rows };
    }

    /// <summary>
    /// Adds each chunk of <paramref name="r"/> to <paramref name="rows"/>[state][bucket] (buckets <paramref name="width"/>
    /// bytes wide from the heap's start), a chunk spanning several buckets split at their edges; bytes beyond the rows' end
    /// are not counted.
    /// </summary>
    public static void AddToBuckets(HeapRegion r, ulong width, ulong[][] rows)
    {
        ArgumentNullException.ThrowIfNull(r);
        ArgumentNullException.ThrowIfNull(rows);
        foreach (HeapChunk c in r.Chunks)
        {
            ulong[] row = rows[StateIndex(c.State)];
            ulong from = c.Address - r.Start, to = from + c.Size;
            while (from < to)
            {
                ulong b = from / width;
                ulong edge = Math.Min(to, (b + 1) * width);
                if (b < (ulong)row.Length)
                {
                    row[b] += edge - from;
                }

                from = edge;
            }
        }
    }
}
