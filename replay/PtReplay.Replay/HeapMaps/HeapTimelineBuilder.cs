using PtReplay.Allocator;
using PtReplay.Allocator.Diagnostics;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Results.HeapMaps;

namespace PtReplay.Replay.HeapMaps;

/// <summary>
/// Builds <see cref="HeapTimelineFile"/> with two model replays (deterministic, so both see the same heaps): the first
/// walks the heap at each moment to learn every heap's largest extent, the second walks it again and fills the cells.
/// Each walk is read-only (<see cref="Ptmalloc.WalkHeap"/>).
/// </summary>
public static class HeapTimelineBuilder
{
    /// <summary>Moments looked at, at most (evenly spaced over the ops; fewer for short traces).</summary>
    public const int DefaultMoments = 300;

    /// <summary>Address buckets per heap.</summary>
    public const int DefaultBuckets = 200;

    /// <summary>Heaps drawn at most (the main heap and the first thread-arena heaps).</summary>
    public const int MaxPanels = 12;

    /// <summary>Builds the timeline of <paramref name="input"/>; <paramref name="progress"/> gets one line per pass.</summary>
    public static HeapTimelineFile Build(PreparedInput input, ReplayOptions options, string? tunables,
        int moments = DefaultMoments, int buckets = DefaultBuckets, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        PreparedTrace prepared = input.Prepared;
        long total = prepared.OpCount;
        var at = new SortedSet<long>();
        for (int i = 0; i <= Math.Min(moments, total); i++)
        {
            at.Add(total * i / Math.Max(1, Math.Min(moments, total)));
        }

        progress?.Invoke("heap extents");
        var extents = new Dictionary<(int Arena, ulong Start), (string Kind, ulong Span)>();
        ulong peakMmapped = 0;
        SimSnapshot.Observe(prepared, input.ModelHeader, options, tunables, (done, op, model) =>
        {
            if (!at.Contains(done))
            {
                return;
            }

            HeapSnapshot s = model.WalkHeap();
            peakMmapped = Math.Max(peakMmapped, s.Regions.Where(r => r.Kind == "mmap").Aggregate(0UL, (sum, r) => sum + r.Extent));
            foreach (HeapRegion r in s.Regions.Where(r => r.Kind != "mmap"))
            {
                var key = (r.Arena, r.Start);
                ulong span = extents.TryGetValue(key, out var e) ? Math.Max(e.Span, r.Extent) : r.Extent;
                extents[key] = (r.Kind, span);
            }
        });

        var keys = extents.Keys.OrderBy(k => k.Arena).ThenBy(k => k.Start).ToList();
        var drawn = keys.Take(MaxPanels).ToList();
        var index = drawn.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => x.i);
        var bucketBytes = drawn.Select(k => Math.Max(16UL, (extents[k].Span + (ulong)buckets - 1) / (ulong)buckets)).ToArray();
        var cells = drawn.Select(_ => new List<IReadOnlyList<int>>()).ToArray();
        IReadOnlyList<ChunkState> states = HeapMapBuilder.States;

        progress?.Invoke("heap states");
        using var file = new PreparedFile(prepared.Path);
        var times = new List<long>();
        SimSnapshot.Observe(prepared, input.ModelHeader, options, tunables, (done, op, model) =>
        {
            if (!at.Contains(done))
            {
                return;
            }

            var rows = new int[drawn.Count][];
            var bytes = new ulong[drawn.Count][][];
            for (int p = 0; p < drawn.Count; p++)
            {
                rows[p] = Enumerable.Repeat(-1, buckets).ToArray();
                bytes[p] = [.. states.Select(_ => new ulong[buckets])];
            }

            foreach (HeapRegion r in model.WalkHeap().Regions)
            {
                if (r.Kind != "mmap" && index.TryGetValue((r.Arena, r.Start), out int p))
                {
                    HeapMapBuilder.AddToBuckets(r, bucketBytes[p], bytes[p]);
                }
            }

            for (int p = 0; p < drawn.Count; p++)
            {
                for (int b = 0; b < buckets; b++)
                {
                    ulong best = 0;
                    for (int s = 0; s < states.Count; s++)
                    {
                        if (bytes[p][s][b] > best)
                        {
                            best = bytes[p][s][b];
                            rows[p][b] = s;
                        }
                    }
                }

                cells[p].Add(rows[p]);
            }

            if (file.Header.TimesOffset != 0)
            {
                times.Add(op < 0 ? 0 : file.RecordedTime(op));
            }
        });

        return new HeapTimelineFile
        {
            Trace = input.TracePath,
            TotalOps = total,
            States = [.. states.Select(HeapMapBuilder.Name)],
            Moments = [.. at],
            MomentTimesNs = times,
            Panels = [.. drawn.Select((k, p) => new HeapTimelinePanel
            {
                Arena = k.Arena,
                Kind = extents[k].Kind,
                Start = k.Start,
                SpanBytes = extents[k].Span,
                BucketBytes = bucketBytes[p],
                Cells = cells[p],
            })],
            PanelsLeftOut = keys.Count - drawn.Count,
            PeakMmappedBytes = peakMmapped,
        };
    }
}
