using System.Globalization;
using PtReplay.Allocator;
using PtReplay.Allocator.Diagnostics;
using PtReplay.Replay.HeapMaps;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Results.Findings;
using PtReplay.Results.HeapMaps;
using PtReplay.Traces;
using PtReplay.Traces.ProcessTrees;
using PtReplay.Traces.Symbols;

namespace PtReplay.Replay.Findings;

/// <summary>What to explain and how far.</summary>
public sealed record FindingsRequest
{
    /// <summary>The moments: "peak" (first op after which the committed footprint is largest), "end", or an op count.</summary>
    public IReadOnlyList<string> Moments { get; init; } = ["peak", "end"];

    /// <summary>Pins listed per moment, those holding the most first (the rest is summed).</summary>
    public int Pins { get; init; } = 10;

    /// <summary>Try tunables on the model (one whole replay per candidate).</summary>
    public bool Suggest { get; init; } = true;

    /// <summary>Sites listed per ranking (peak live bytes, calls, pinned bytes) when the trace has call stacks.</summary>
    public int Sites { get; init; } = 10;

    /// <summary>Where symbols are looked up and cached.</summary>
    public SymbolizerOptions Symbols { get; init; } = new();
}

/// <summary>
/// Builds findings.json for a prepared trace from the model's state: one replay for the footprint baseline and the peak's
/// op, then per moment a replay to it (the heap walked, live blocks' allocating ops kept) and a trimmed copy
/// (malloc_trim's figure), then one replay per tunable candidate (<see cref="TunableSuggester"/>).
/// </summary>
public static class HeapFindingsBuilder
{
    /// <summary>Size classes listed per moment.</summary>
    public const int SizeClassesListed = 10;

    /// <summary>
    /// Explains <paramref name="input"/>. <paramref name="progress"/> gets one line per step. Throws
    /// <see cref="MallocAbortException"/> when the model aborts on the trace itself.
    /// </summary>
    public static HeapFindingsFile Build(PreparedInput input, ReplayOptions options, string? tunables, FindingsRequest request, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(request);
        var inv = CultureInfo.InvariantCulture;
        (PreparedTrace prepared, TraceHeader header) = (input.Prepared, input.ModelHeader);
        progress?.Invoke("model footprint over the whole trace");
        (ulong peak, ulong end, long peakOp) = SimSnapshot.Footprints(prepared, header, options, tunables);
        var baseline = new FootprintPrediction { PeakCommittedBytes = peak, EndCommittedBytes = end };

        using var file = new PreparedFile(prepared.Path);
        // A forked child's prepared trace replays its ancestors' events first (one stage each, closed by a fork op).
        IReadOnlyList<string> inheritedTraces = input.TraceHeader.Origin == TraceOrigin.ForkedChild
            && InheritedHeap.Find(input.TracePath, input.TraceHeader, out _) is { } inherited
            ? [.. inherited.Stages.Select(s => s.ParentPath)] : [];
        var moments = new List<HeapMoment>();
        var allPins = new List<IReadOnlyList<HeapPin>>();
        int arenas = 1;
        foreach (string at in request.Moments)
        {
            SimStop stop = at switch
            {
                "peak" => new SimStop(SimStopKind.AfterOps, peakOp),
                "end" => new SimStop(SimStopKind.End),
                _ => new SimStop(SimStopKind.AfterOps, long.Parse(at, NumberStyles.None, inv)),
            };
            progress?.Invoke(at == "peak" || at == "end" ? $"heap at {at}" : $"heap after op {at}");
            var ages = new LiveBlockAges();
            (Ptmalloc model, long ops, ulong committed) = SimSnapshot.Run(prepared, header, options, tunables, stop, ages);
            HeapSnapshot snapshot = model.WalkHeap();
            arenas = Math.Max(arenas, snapshot.ArenaCount);
            long momentEvent = ages.LastOp < 0 ? -1 : file.EventIndex(ages.LastOp);
            HeapMapFile map = HeapMapBuilder.Build(snapshot, model.MallInfo2(), new HeapMapFile());
            (IReadOnlyList<HeapPin> every, _, long pinCount) = HeapPins.Find(snapshot, ages, file, momentEvent, int.MaxValue, inheritedTraces);
            allPins.Add(every);
            IReadOnlyList<HeapPin> pins = [.. every.Take(request.Pins)];
            ulong notListed = every.Skip(request.Pins).Aggregate(0UL, (sum, p) => sum + p.HostageBytes);
            moments.Add(new HeapMoment
            {
                At = at is "peak" or "end" ? at : $"op {at}",
                Ops = ops,
                EventIndex = momentEvent,
                CommittedBytes = committed,
                InUseBytes = Sum(map, b => b.InUse),
                FreeBytes = Sum(map, b => b.Tcache + b.Fastbin + b.Unsorted + b.SmallBin + b.LargeBin),
                TopBytes = Sum(map, b => b.Top),
                MmappedBytes = map.Mmapped.Bytes,
                FreeByKind = [.. map.Arenas.SelectMany(a => a.BinKinds).GroupBy(r => r.Kind)
                    .Select(g => new HeapMapBinRow { Kind = g.Key, Count = g.Sum(r => r.Count), Bytes = g.Aggregate(0UL, (s, r) => s + r.Bytes) })
                    .OrderByDescending(r => r.Bytes)],
                FreeBySize = [.. map.Arenas.SelectMany(a => a.SizeClasses).GroupBy(r => (r.Kind, r.Size))
                    .Select(g => new HeapMapBinRow { Kind = g.Key.Kind, Size = g.Key.Size, Count = g.Sum(r => r.Count), Bytes = g.Aggregate(0UL, (s, r) => s + r.Bytes) })
                    .OrderByDescending(r => r.Bytes).ThenBy(r => r.Size).Take(SizeClassesListed)],
                SizeClasses = SizeClassFragmentation.Compute(snapshot, ages, file),
                Trim = TrimEstimator.TrimAndMeasure(model), // last: every read of this moment is done
                Pins = pins,
                PinnedBytesNotListed = notListed,
                PinCount = pinCount,
            });
        }

        // A forked child's pins inherited from its heap at the fork carry their ancestor's trace: their sites come from it.
        SiteFindings.Result sites = SiteFindings.Build(input.TracePath, allPins, request, progress);
        if (sites.Recorded)
        {
            for (int m = 0; m < moments.Count; m++)
            {
                moments[m] = moments[m] with { Pins = [.. moments[m].Pins.Select(sites.WithSite)] };
            }
        }

        string baseTunables = ModelSetup.Tunables(tunables, header).ToGlibcTunables();
        IReadOnlyList<TunableSuggestion> suggested = [], rejected = [];
        if (request.Suggest)
        {
            IReadOnlyList<TunableSuggester.Candidate> candidates = TunableSuggester.Choose(moments, arenas);
            if (candidates.Count > 0)
            {
                progress?.Invoke(string.Create(inv, $"trying {candidates.Count} tunable(s) on the model"));
                (suggested, rejected) = TunableSuggester.Judge(candidates, baseline, prepared, header, options, baseTunables);
            }
        }

        return new HeapFindingsFile
        {
            Trace = input.TracePath,
            Tunables = baseTunables,
            PinDefinition = HeapPins.Definition,
            Moments = moments,
            Baseline = baseline,
            Suggestions = suggested,
            Rejected = rejected,
            StacksRecorded = sites.Recorded,
            Sites = sites.Listed,
            SitesListed = request.Sites,
            SiteCount = sites.Count,
        };
    }

    private static ulong Sum(HeapMapFile map, Func<HeapMapStateBytes, ulong> pick) => map.Arenas.Aggregate(0UL, (s, a) => s + pick(a.Bytes));
}
