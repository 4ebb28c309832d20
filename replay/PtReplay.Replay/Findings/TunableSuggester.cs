using System.Globalization;
using PtReplay.Allocator;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Results.Findings;
using PtReplay.Traces;

namespace PtReplay.Replay.Findings;

/// <summary>
/// Which glibc tunables could lower a trace's footprint, chosen from its findings and each judged by a whole model replay
/// with the tunable added (the model is deterministic, so one replay per candidate is the prediction):
/// <list type="bullet">
/// <item>thread arenas exist: glibc.malloc.arena_max=1 (and 2 when there are more than two);</item>
/// <item>free memory pinned below live chunks is a large part of the footprint: fixed mmap thresholds of 32, 64 and 128 KiB
/// (large blocks in mmaps of their own go back to the kernel when freed, and a fixed threshold stops glibc's dynamic one
/// from growing);</item>
/// <item>the top chunk left at the end is large: glibc.malloc.trim_threshold=32768;</item>
/// <item>tcache or fastbin chunks hold a tenth of the free bytes: glibc.malloc.tcache_count=0, glibc.malloc.mxfast=0.</item>
/// </list>
/// A candidate is suggested when it lowers the peak or the end footprint by at least a page and 1 %.
/// </summary>
public static class TunableSuggester
{
    /// <summary>A tunable to try and why.</summary>
    public readonly record struct Candidate(string Tunable, string Why);

    /// <summary>The candidates <paramref name="moments"/> call for (<paramref name="arenas"/>: arenas the model made).</summary>
    public static IReadOnlyList<Candidate> Choose(IReadOnlyList<HeapMoment> moments, int arenas)
    {
        ArgumentNullException.ThrowIfNull(moments);
        var inv = CultureInfo.InvariantCulture;
        var list = new List<Candidate>();
        if (arenas > 1)
        {
            string why = string.Create(inv, $"the program's threads made {arenas - 1} thread arena(s), each with heaps of its own");
            list.Add(new("glibc.malloc.arena_max=1", why));
            if (arenas > 2)
            {
                list.Add(new("glibc.malloc.arena_max=2", why));
            }
        }

        HeapMoment? pinned = moments.Where(m => m.CommittedBytes > 0).MaxBy(m => (double)m.PinnedBytes() / m.CommittedBytes);
        if (pinned is not null && pinned.PinnedBytes() * 4 >= pinned.CommittedBytes)
        {
            string why = string.Create(inv, $"at {pinned.At} {pinned.PinnedBytes()} of {pinned.CommittedBytes} committed bytes are free but pinned below live chunks");
            foreach (ulong t in (ulong[])[32768, 65536, 131072])
            {
                list.Add(new(string.Create(inv, $"glibc.malloc.mmap_threshold={t}"), why));
            }
        }

        if (moments.Count > 0 && moments[^1] is { } end && end.TopBytes > 65536)
        {
            list.Add(new("glibc.malloc.trim_threshold=32768", string.Create(inv, $"at {end.At} the top chunks hold {end.TopBytes} bytes glibc has not trimmed")));
        }

        foreach (HeapMoment m in moments)
        {
            ulong tcache = Kind(m, "tcache"), fast = Kind(m, "fastbin");
            if (tcache * 10 >= m.FreeBytes && tcache > 0 && !list.Any(c => c.Tunable.StartsWith("glibc.malloc.tcache_count", StringComparison.Ordinal)))
            {
                list.Add(new("glibc.malloc.tcache_count=0", string.Create(inv, $"at {m.At} tcaches hold {tcache} of {m.FreeBytes} free bytes")));
            }

            if (fast * 10 >= m.FreeBytes && fast > 0 && !list.Any(c => c.Tunable.StartsWith("glibc.malloc.mxfast", StringComparison.Ordinal)))
            {
                list.Add(new("glibc.malloc.mxfast=0", string.Create(inv, $"at {m.At} fastbins hold {fast} of {m.FreeBytes} free bytes")));
            }
        }

        return list;
    }

    /// <summary>
    /// Replays the model once per candidate (in parallel), each with <paramref name="baseTunables"/> plus the candidate, and
    /// splits them into suggestions (best first: largest peak plus end reduction) and rejected ones.
    /// </summary>
    public static (IReadOnlyList<TunableSuggestion> Suggested, IReadOnlyList<TunableSuggestion> Rejected) Judge(
        IReadOnlyList<Candidate> candidates, FootprintPrediction baseline, PreparedTrace trace, TraceHeader header,
        ReplayOptions options, string baseTunables)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(baseline);
        var results = new TunableSuggestion[candidates.Count];
        Parallel.For(0, candidates.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            Candidate c = candidates[i];
            string tunables = baseTunables.Length == 0 ? c.Tunable : baseTunables + ":" + c.Tunable;
            try
            {
                (ulong peak, ulong end, _) = SimSnapshot.Footprints(trace, header, options, tunables);
                results[i] = new TunableSuggestion { Tunable = c.Tunable, Why = c.Why, Predicted = new FootprintPrediction { PeakCommittedBytes = peak, EndCommittedBytes = end } };
            }
            catch (MallocAbortException ex)
            {
                results[i] = new TunableSuggestion { Tunable = c.Tunable, Why = c.Why, Error = ex.GlibcMessage };
            }
        });

        bool Better(TunableSuggestion s) => s.Error is null &&
            (Lower(baseline.PeakCommittedBytes, s.Predicted.PeakCommittedBytes) || Lower(baseline.EndCommittedBytes, s.Predicted.EndCommittedBytes));
        double Gain(TunableSuggestion s) =>
            (double)baseline.PeakCommittedBytes - s.Predicted.PeakCommittedBytes + ((double)baseline.EndCommittedBytes - s.Predicted.EndCommittedBytes);
        return ([.. results.Where(Better).OrderByDescending(Gain)], [.. results.Where(s => !Better(s))]);
    }

    private static bool Lower(ulong baseline, ulong predicted) =>
        predicted + 4096 <= baseline && predicted * 100 <= baseline * 99;

    private static ulong Kind(HeapMoment m, string kind) => m.FreeByKind.Where(r => r.Kind == kind).Aggregate(0UL, (s, r) => s + r.Bytes);
}
