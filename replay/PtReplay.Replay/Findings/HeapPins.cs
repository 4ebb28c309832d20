using PtReplay.Allocator.Diagnostics;
using PtReplay.Replay.HeapMaps;
using PtReplay.Replay.Preparation;
using PtReplay.Results.Findings;

namespace PtReplay.Replay.Findings;

/// <summary>
/// The live chunks that pin free memory, read from the model's chunk layout. A heap gives memory back only from its top
/// (the break is lowered, a thread arena's heap shrunk), so walking each heap down from its top chunk: the highest live
/// chunk holds hostage the free bytes between it and the next live chunk below (they are returned once it is freed, with
/// whatever it has above it); the next live chunk holds the gap below it once the first is freed too, and so on down to
/// the heap's start. Free chunks above the highest live chunk (tcache and fastbin chunks are not merged into top) are
/// pinned by no program block: malloc_trim's figure covers them.
/// Invariant: the hostage bytes of a heap's whole chain plus the free bytes above its highest live chunk equal the heap's
/// free bytes (tcache, fastbin, unsorted, small and large bins).
/// </summary>
public static class HeapPins
{
    /// <summary>What <see cref="HeapPin"/> means, for the file and the report.</summary>
    public const string Definition =
        "A pin is a live chunk with free memory below it in the same heap: a heap gives memory back only from its top, so " +
        "those free bytes (down to the next live chunk) are returned only once the pin and every live chunk above it are " +
        "freed. Hostage bytes are that gap; cumulative hostage bytes add the gaps of the pins above it in the heap.";

    /// <summary>
    /// The <paramref name="count"/> pins of <paramref name="snapshot"/>'s arena heaps that hold the most free bytes, largest
    /// first (ties: higher in the heap first). Live chunks with no free bytes below them count in the rank only. Returns
    /// them, the hostage bytes of the pins left out and the number of pins in all. <paramref name="inheritedTraces"/>: for a
    /// forked child's replay, its ancestors' traces oldest first (the stages its prepared trace replays before its own
    /// events, each closed by a fork op), so a pin allocated in stage k names trace k; empty otherwise.
    /// </summary>
    public static (IReadOnlyList<HeapPin> Pins, ulong NotListed, long Total) Find(
        HeapSnapshot snapshot, LiveBlockAges ages, PreparedFile file, long momentEvent, int count, IReadOnlyList<string>? inheritedTraces = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(ages);
        ArgumentNullException.ThrowIfNull(file);
        var all = new List<(HeapRegion Region, HeapChunk Chunk, int Rank, ulong Gap, ulong Cumulative)>();
        foreach (HeapRegion r in snapshot.Regions)
        {
            if (r.Kind == "mmap")
            {
                continue;
            }

            int rank = 0;
            ulong cumulative = 0;
            HeapChunk? pin = null;
            ulong gap = 0;
            for (int i = r.Chunks.Count - 1; i >= -1; i--)
            {
                HeapChunk? c = i >= 0 ? r.Chunks[i] : null;
                if (c is { } free && HeapMapBuilder.IsFree(free.State))
                {
                    gap += pin is null ? 0 : free.Size; // above the highest live chunk: pinned by nothing
                    continue;
                }

                if (c is { State: not ChunkState.InUse })
                {
                    continue; // top, fenceposts
                }

                // A live chunk, or the heap's start: the gap collected below the previous live chunk ends here.
                if (pin is { } p && gap > 0)
                {
                    cumulative += gap;
                    all.Add((r, p, rank, gap, cumulative));
                }

                gap = 0;
                pin = c;
                rank++;
            }
        }

        var listed = all.OrderByDescending(x => x.Gap).ThenBy(x => x.Rank).Take(count).ToList();
        ulong notListed = all.Aggregate(0UL, (sum, x) => sum + x.Gap) - listed.Aggregate(0UL, (sum, x) => sum + x.Gap);
        return ([.. listed.Select(x => Describe(x.Region, x.Chunk, x.Rank, x.Gap, x.Cumulative, ages, file, momentEvent, inheritedTraces ?? []))], notListed, all.Count);
    }

    private static HeapPin Describe(HeapRegion r, HeapChunk c, int rank, ulong gap, ulong cumulative, LiveBlockAges ages, PreparedFile file,
        long momentEvent, IReadOnlyList<string> inheritedTraces)
    {
        ulong user = c.Address + 16; // the chunk header's prev_size and size words
        long op = ages.AllocatedBy(user);
        long ev = op < 0 ? -1 : file.EventIndex(op);
        int stage = op < 0 ? -1 : ages.ForksBefore(user);
        string? inTrace = stage >= 0 && stage < inheritedTraces.Count ? inheritedTraces[stage] : null;
        return new HeapPin
        {
            Arena = r.Arena,
            Heap = r.Kind,
            Rank = rank,
            Address = user,
            ChunkBytes = c.Size,
            HostageBytes = gap,
            CumulativeHostageBytes = cumulative,
            AllocatedAtEvent = ev,
            AllocatedInTrace = inTrace,
            AgeEvents = ev < 0 || momentEvent < 0 || inTrace is not null ? -1 : momentEvent - ev,
            AllocatedAtNs = op < 0 || file.Header.TimesOffset == 0 ? null : file.RecordedTime(op),
        };
    }
}
