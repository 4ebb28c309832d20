using PtReplay.Traces.Analysis;
using PtReplay.Traces.Stacks;
using PtReplay.Traces.Symbols;

namespace PtReplay.Traces.Sites;

/// <summary>One allocation site of a trace and what its calls did.</summary>
/// <param name="Frame">The site frame (<see cref="SiteClassifier"/>).</param>
/// <param name="Stack">The whole stack of the site's heaviest stack id (most bytes requested), innermost first.</param>
/// <param name="StackIds">The stack ids whose site this is.</param>
public sealed record TraceSite(SymbolizedFrame Frame, IReadOnlyList<SymbolizedFrame> Stack, IReadOnlyList<int> StackIds)
{
    /// <summary>Allocating calls (realloc included).</summary>
    public long Calls { get; internal set; }

    /// <summary>Bytes they requested.</summary>
    public ulong RequestedBytes { get; internal set; }

    /// <summary>Requested bytes of its blocks live after the event at which the trace's live requested bytes peak.</summary>
    public ulong PeakLiveBytes { get; internal set; }

    /// <summary>Requested bytes of its blocks live at the end.</summary>
    public ulong EndLiveBytes { get; internal set; }
}

/// <summary>
/// Allocation sites over a whole trace recorded with stacks: per stack id the calls, requested bytes and live bytes (the
/// <see cref="LiveSet"/> rules of `info`: a realloc's block belongs to the realloc's stack from then on), grouped by site
/// frame (function and source line when known, else the address). Two passes over the trace: the first finds the event
/// after which live requested bytes peak, the second keeps the books and takes the live bytes per stack there.
/// <para>Invariants: the sites' <see cref="TraceSite.PeakLiveBytes"/> add up to the trace's peak live requested bytes minus
/// those of calls without a stack (same for the end); every stack id used by an allocating event belongs to exactly one
/// site.</para>
/// </summary>
public sealed class SiteStatistics
{
    private readonly int[] _siteOfStack;
    private readonly Dictionary<long, int> _stackOfEvent;

    private SiteStatistics(StackTable stacks, IReadOnlyList<TraceSite> sites, int[] siteOfStack, Dictionary<long, int> stackOfEvent, long peakEventIndex)
    {
        Stacks = stacks;
        Sites = sites;
        _siteOfStack = siteOfStack;
        _stackOfEvent = stackOfEvent;
        PeakEventIndex = peakEventIndex;
    }

    /// <summary>The trace's stacks.</summary>
    public StackTable Stacks { get; }

    /// <summary>The sites, most peak live bytes first.</summary>
    public IReadOnlyList<TraceSite> Sites { get; }

    /// <summary>The event after which live requested bytes peak (-1 for a trace without allocations).</summary>
    public long PeakEventIndex { get; }

    /// <summary>The stack id of event <paramref name="eventIndex"/> when it was asked for (0: none).</summary>
    public int StackOfEvent(long eventIndex) => _stackOfEvent.GetValueOrDefault(eventIndex);

    /// <summary>The site (index into <see cref="Sites"/>) of stack <paramref name="stackId"/>, or -1.</summary>
    public int SiteOfStack(int stackId) => stackId > 0 && stackId < _siteOfStack.Length ? _siteOfStack[stackId] : -1;

    /// <summary>
    /// Computes the sites of the trace at <paramref name="tracePath"/> (stacks as its reader delivers them) with
    /// <paramref name="symbolizer"/>; keeps the stack ids of <paramref name="eventsOfInterest"/> for
    /// <see cref="StackOfEvent"/>. Returns null when the trace holds no stacks.
    /// </summary>
    public static SiteStatistics? Compute(string tracePath, Symbolizer symbolizer, IReadOnlySet<long> eventsOfInterest, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(symbolizer);
        ArgumentNullException.ThrowIfNull(eventsOfInterest);
        long peakIndex = -1;
        using (TraceReader first = TraceReader.Open(tracePath))
        {
            if (first.Stacks.Count == 0)
            {
                return null;
            }

            progress?.Invoke("allocation sites: finding the peak of live bytes");
            var live = new LiveSet();
            long index = 0;
            foreach (AllocEvent e in first.ReadAll())
            {
                if (live.Apply(in e).NewPeak)
                {
                    peakIndex = index;
                }

                index++;
            }
        }

        using TraceReader reader = TraceReader.Open(tracePath);
        StackTable table = reader.Stacks;
        int n = table.Count + 1;
        var calls = new long[n];
        var requested = new ulong[n];
        var liveBytes = new ulong[n];
        var peakLive = new ulong[n];
        var stackOfEvent = new Dictionary<long, int>();
        var set = new LiveSet();
        long i = 0;
        progress?.Invoke("allocation sites: live bytes per stack");
        foreach (AllocEvent e in reader.ReadAll())
        {
            int stack = e.Stack > 0 && e.Stack < n ? e.Stack : 0;
            if (eventsOfInterest.Contains(i))
            {
                stackOfEvent[i] = stack;
            }

            LiveChange change = set.Apply(in e);
            if (e.Kind.Allocates())
            {
                calls[stack]++;
                requested[stack] += e.RequestedBytes;
            }

            if (change.Pointer == PointerState.Live && change.Kind is LiveChangeKind.Freed or LiveChangeKind.Reallocated)
            {
                liveBytes[change.Block.Tag] -= Math.Min(liveBytes[change.Block.Tag], change.Block.Bytes);
            }

            if (change.Kind is LiveChangeKind.Allocated or LiveChangeKind.Reallocated)
            {
                set.TagResult((uint)stack);
                liveBytes[stack] += e.RequestedBytes;
            }

            if (i == peakIndex)
            {
                Array.Copy(liveBytes, peakLive, n);
            }

            i++;
        }

        progress?.Invoke("allocation sites: symbolising");
        var siteOfStack = new int[n];
        Array.Fill(siteOfStack, -1);
        var byKey = new Dictionary<string, (SymbolizedFrame Frame, List<int> Ids)>(StringComparer.Ordinal);
        for (int id = 1; id < n; id++)
        {
            if (calls[id] == 0)
            {
                continue;
            }

            IReadOnlyList<SymbolizedFrame> frames = symbolizer.ResolveStack(table, id);
            int at = SiteClassifier.SiteIndex(frames);
            SymbolizedFrame frame = at >= 0 ? frames[at] : new SymbolizedFrame(0, SymbolizedFrame.Unknown, null, null, 0, "empty stack");
            string key = frame.Resolved
                ? $"{frame.Function}\0{frame.Module}\0{frame.File}\0{frame.Line}"
                : $"?\0{frame.Module}\0{frame.Address}";
            if (!byKey.TryGetValue(key, out var group))
            {
                group = (frame, []);
                byKey[key] = group;
            }

            group.Ids.Add(id);
        }

        var sites = new List<TraceSite>();
        foreach ((SymbolizedFrame frame, List<int> ids) in byKey.Values)
        {
            int heaviest = ids.MaxBy(id => requested[id]);
            var site = new TraceSite(frame, symbolizer.ResolveStack(table, heaviest), ids);
            foreach (int id in ids)
            {
                site.Calls += calls[id];
                site.RequestedBytes += requested[id];
                site.PeakLiveBytes += peakLive[id];
                site.EndLiveBytes += liveBytes[id];
            }

            sites.Add(site);
        }

        sites.Sort((a, b) => b.PeakLiveBytes != a.PeakLiveBytes ? b.PeakLiveBytes.CompareTo(a.PeakLiveBytes) : b.Calls.CompareTo(a.Calls));
        for (int s = 0; s < sites.Count; s++)
        {
            foreach (int id in sites[s].StackIds)
            {
                siteOfStack[id] = s;
            }
        }

        symbolizer.Flush();
        return new SiteStatistics(table, sites, siteOfStack, stackOfEvent, peakIndex);
    }
}
