using PtReplay.Results.Findings;
using PtReplay.Traces;
using PtReplay.Traces.Sites;
using PtReplay.Traces.Symbols;

namespace PtReplay.Replay.Findings;

/// <summary>
/// The allocation sites of findings.json: <see cref="SiteStatistics"/> of the trace (calls, requested and live bytes per
/// site), the free bytes each site's live chunks pin at each moment (the sum of the hostage bytes of every pin allocated
/// from that site: the pin's allocating event's recorded stack), and each pin's own site and stack. A forked child's pin
/// inherited from its heap at the fork gets its site from the ancestor's trace that allocated it (its stack, symbolized
/// with that trace's modules: the child's addresses are the parent's); the site figures count the trace's own calls only.
/// </summary>
public static class SiteFindings
{
    /// <summary>What <see cref="Build"/> found.</summary>
    public sealed class Result
    {
        internal static readonly Result None = new(false, [], 0, []);

        private readonly Dictionary<(string Trace, long Event), AllocationSite> _siteOfEvent;

        internal Result(bool recorded, IReadOnlyList<SiteFigures> listed, long count, Dictionary<(string Trace, long Event), AllocationSite> siteOfEvent)
        {
            Recorded = recorded;
            Listed = listed;
            Count = count;
            _siteOfEvent = siteOfEvent;
        }

        /// <summary>True when the trace has call stacks.</summary>
        public bool Recorded { get; }

        /// <summary>The sites listed (see <see cref="HeapFindingsFile.Sites"/>).</summary>
        public IReadOnlyList<SiteFigures> Listed { get; }

        /// <summary>Distinct sites.</summary>
        public long Count { get; }

        /// <summary><paramref name="pin"/> with its allocation site, when its allocating call has a stack.</summary>
        public HeapPin WithSite(HeapPin pin)
        {
            ArgumentNullException.ThrowIfNull(pin);
            return _siteOfEvent.TryGetValue((pin.AllocatedInTrace ?? "", pin.AllocatedAtEvent), out AllocationSite? site) ? pin with { Site = site } : pin;
        }
    }

    /// <summary>
    /// The sites of the trace at <paramref name="tracePath"/> given every pin of each moment (<paramref name="pins"/>, in
    /// the moments' order); <see cref="Result.None"/> when the trace has no stacks.
    /// </summary>
    public static Result Build(string tracePath, IReadOnlyList<IReadOnlyList<HeapPin>> pins, FindingsRequest request, Action<string>? progress)
    {
        ArgumentNullException.ThrowIfNull(pins);
        ArgumentNullException.ThrowIfNull(request);
        var events = new HashSet<long>(pins.SelectMany(m => m).Where(p => p.AllocatedAtEvent >= 0 && p.AllocatedInTrace is null).Select(p => p.AllocatedAtEvent));
        using var symbolizer = new Symbolizer(request.Symbols);
        SiteStatistics? stats = SiteStatistics.Compute(tracePath, symbolizer, events, progress);
        if (stats is null)
        {
            return Result.None;
        }

        var byStack = new Dictionary<int, AllocationSite>();
        var siteOfEvent = new Dictionary<(string Trace, long Event), AllocationSite>();
        foreach (long e in events)
        {
            if (stats.StackOfEvent(e) is > 0 and int stack)
            {
                if (!byStack.TryGetValue(stack, out AllocationSite? site))
                {
                    IReadOnlyList<SymbolizedFrame> frames = symbolizer.ResolveStack(stats.Stacks, stack);
                    if (frames.Count == 0)
                    {
                        continue;
                    }

                    site = Site(frames[Math.Max(0, SiteClassifier.SiteIndex(frames))], frames);
                    byStack[stack] = site;
                }

                siteOfEvent[("", e)] = site;
            }
        }

        foreach (IGrouping<string, long> inherited in pins.SelectMany(m => m).Where(p => p.AllocatedAtEvent >= 0 && p.AllocatedInTrace is not null)
                     .GroupBy(p => p.AllocatedInTrace!, p => p.AllocatedAtEvent))
        {
            foreach ((long e, AllocationSite site) in InheritedSites(inherited.Key, [.. inherited], symbolizer))
            {
                siteOfEvent[(inherited.Key, e)] = site;
            }
        }

        var pinned = new ulong[stats.Sites.Count, pins.Count];
        for (int m = 0; m < pins.Count; m++)
        {
            foreach (HeapPin p in pins[m])
            {
                int site = p.AllocatedAtEvent < 0 || p.AllocatedInTrace is not null ? -1 : stats.SiteOfStack(stats.StackOfEvent(p.AllocatedAtEvent));
                if (site >= 0)
                {
                    pinned[site, m] += p.HostageBytes;
                }
            }
        }

        var figures = stats.Sites.Select((s, i) => new SiteFigures
        {
            Site = Site(s.Frame, s.Stack),
            Calls = s.Calls,
            RequestedBytes = s.RequestedBytes,
            PeakLiveBytes = s.PeakLiveBytes,
            EndLiveBytes = s.EndLiveBytes,
            PinnedBytes = [.. Enumerable.Range(0, pins.Count).Select(m => pinned[i, m])],
        }).ToList();
        int top = Math.Max(0, request.Sites);
        var listed = figures.OrderByDescending(f => f.PeakLiveBytes).Take(top)
            .Concat(figures.OrderByDescending(f => f.Calls).Take(top))
            .Concat(figures.Where(f => f.MostPinnedBytes() > 0).OrderByDescending(f => f.MostPinnedBytes()).Take(top))
            .Distinct().ToList();
        return new Result(true, listed, figures.Count, siteOfEvent);
    }

    /// <summary>
    /// The sites of events <paramref name="events"/> of the ancestor's trace at <paramref name="tracePath"/> (indexes in its
    /// reader's delivery order, as the inherited replay numbers them): the trace is read up to the last of them.
    /// </summary>
    private static IEnumerable<(long Event, AllocationSite Site)> InheritedSites(string tracePath, HashSet<long> events, Symbolizer symbolizer)
    {
        using TraceReader reader = TraceReader.Open(tracePath);
        if (reader.Stacks.Count == 0 || events.Count == 0)
        {
            yield break;
        }

        long last = events.Max();
        long index = 0;
        var stackOfEvent = new List<(long Event, int Stack)>();
        foreach (AllocEvent e in reader.ReadAll())
        {
            if (events.Contains(index) && e.Stack > 0)
            {
                stackOfEvent.Add((index, e.Stack));
            }

            if (++index > last)
            {
                break;
            }
        }

        foreach ((long e, int stack) in stackOfEvent)
        {
            IReadOnlyList<SymbolizedFrame> frames = symbolizer.ResolveStack(reader.Stacks, stack);
            if (frames.Count > 0)
            {
                yield return (e, Site(frames[Math.Max(0, SiteClassifier.SiteIndex(frames))], frames));
            }
        }
    }

    /// <summary>The results form of a site frame and its stack.</summary>
    public static AllocationSite Site(SymbolizedFrame frame, IReadOnlyList<SymbolizedFrame> stack)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(stack);
        return new AllocationSite
        {
            Function = frame.Function,
            File = frame.File,
            Line = frame.Line,
            Module = frame.Module,
            Address = frame.Address,
            Problem = frame.Problem,
            Stack = [.. stack.Select(f => new StackFrame
            {
                Address = f.Address,
                Function = f.Function,
                File = f.File,
                Line = f.Line,
                Module = f.Module,
                Problem = f.Problem,
            })],
        };
    }
}
