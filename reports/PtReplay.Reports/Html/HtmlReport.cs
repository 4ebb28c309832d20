using System.Globalization;
using System.Net;
using System.Text;
using PtReplay.Reports.Input;
using PtReplay.Reports.Plots;
using PtReplay.Results;

namespace PtReplay.Reports.Html;

/// <summary>
/// Builds one self-contained HTML page comparing the engines of one or more replay outputs:
/// <code>
///   how to read this
///   per workload:  trace facts | summary table (one row per engine; failed engines show their error)
///                  footprint plot | RSS plot | fragmentation plot (inline SVG, a line per engine)
///                  latency table per call kind (p50 p90 p99 p99.9 max, ns)
/// </code>
/// Invariant: the page references nothing outside itself (no scripts, style sheets, fonts or images by URL);
/// plots are embedded as data: URIs of SVG.
/// </summary>
public static class HtmlReport
{
    /// <summary>Summary columns: (summary.json field, header).</summary>
    private static readonly (string Field, string Header)[] SummaryColumns =
    [
        ("peak_live_bytes", "peak live B"),
        ("peak_rss_bytes", "peak RSS B"),
        ("final_rss_bytes", "final RSS B"),
        ("peak_footprint_bytes", "peak footprint B"),
        ("final_footprint_bytes", "final footprint B"),
        ("peak_address_space_bytes", "peak address space B"),
        ("jw_rss_at_peak_live_over_peak_live", "J&W: RSS at peak live / peak live"),
        ("jw_peak_rss_over_peak_live", "J&W: peak RSS / peak live"),
        ("peak_fragmentation", "frag. at peak RSS"),
        ("final_fragmentation", "final frag."),
        ("sampling_ns", "sampling ns"),
        ("warmup_ns", "warm-up ns"),
    ];

    /// <summary>With more workloads than this, each workload's section starts folded.</summary>
    public const int FoldAbove = 12;

    /// <summary>Builds the page for <paramref name="outputs"/>.</summary>
    /// <param name="outputs">The replay outputs, one workload each.</param>
    /// <param name="progress">Hears one line per workload.</param>
    /// <param name="axis">What the time series' x axis counts.</param>
    public static string Build(IReadOnlyList<ReplayOutput> outputs, Action<string>? progress = null, SeriesAxis axis = SeriesAxis.Calls)
    {
        var html = new StringBuilder(1 << 16);
        var anchors = new WorkloadAnchors(outputs);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>PtReplay report</title>\n<style>\n")
            .Append(Css).Append("</style></head><body>\n<h1>PtReplay report</h1>\n")
            .Append(CultureInfo.InvariantCulture, $"<p class=\"meta\">{outputs.Count} workload(s), generated {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC</p>\n");
        TableOfContents.Append(html, outputs, anchors);
        html.Append(HowToRead);
        Overview(html, outputs, anchors);
        // Many workloads: each starts folded, so the page stays navigable; a few: all open.
        bool open = outputs.Count <= FoldAbove;
        foreach (ReplayOutput output in outputs)
        {
            progress?.Invoke(output.Name);
            Workload(html, output, anchors[output], open, axis);
        }

        html.Append("</body></html>\n");
        return html.ToString();
    }

    /// <summary>One row per workload, one column per engine: peak footprint / peak RSS in MiB (the headline).</summary>
    private static void Overview(StringBuilder html, IReadOnlyList<ReplayOutput> outputs, WorkloadAnchors anchors)
    {
        var engines = outputs.SelectMany(o => o.Engines.Select(e => e.Engine)).Distinct(StringComparer.Ordinal).ToList();
        html.Append("<section><h2>Overview</h2>\n<p>Peak RSS / peak footprint in MiB (lower is better); details per workload below.</p>\n<table><tr><th>workload</th><th>peak live</th>");
        foreach (string engine in engines)
        {
            html.Append(CultureInfo.InvariantCulture, $"<th>{E(engine)}</th>");
        }

        html.Append("</tr>\n");
        foreach (ReplayOutput o in outputs)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"workload\"><a href=\"#{anchors[o]}\">{E(o.Name)}</a></td><td>{Mib(o.Trace.PeakLiveBytes)}</td>");
            foreach (string name in engines)
            {
                EngineOutput? e = o.Engines.FirstOrDefault(x => x.Engine == name);
                if (e is null)
                {
                    html.Append("<td>&ndash;</td>");
                }
                else if (e.Error is not null)
                {
                    string what = e.Summary.Skipped ? "skipped" : "error";
                    html.Append(CultureInfo.InvariantCulture, $"<td class=\"{what}\" title=\"{E(e.Error)}\">{what}</td>");
                }
                else
                {
                    html.Append(CultureInfo.InvariantCulture, $"<td>{Mib(e.Figure("peak_rss_bytes") ?? 0)} / {Mib(e.Figure("peak_footprint_bytes") ?? 0)}</td>");
                }
            }

            html.Append("</tr>\n");
        }

        html.Append("</table></section>\n");
    }

    private static string Mib(double bytes) => (bytes / 1048576.0).ToString("0.00", CultureInfo.InvariantCulture);

    private static void Workload(StringBuilder html, ReplayOutput o, string id, bool open, SeriesAxis axis)
    {
        html.Append(CultureInfo.InvariantCulture, $"<section id=\"{id}\"><details{(open ? " open" : "")}><summary><h2>{E(o.Name)}</h2></summary>\n");
        if (o.Trace.CommandLine is { } command)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"command\"><code>{E(command)}</code>")
                .Append(o.Trace.Pid is { } pid ? string.Create(CultureInfo.InvariantCulture, $" (pid {pid}{(o.Trace.ParentPid is { } ppid ? $", parent {ppid}" : "")})") : "")
                .Append("</p>\n");
        }

        html.Append(CultureInfo.InvariantCulture, $"<p class=\"meta\">trace {E(o.Trace.Path)}; summary {E(o.SummaryPath)}; options: ")
            .Append(E(string.Join(", ", o.Options.Select(kv => $"{kv.Key}={kv.Value}")))).Append("</p>\n");
        if (o.Findings is { } findings)
        {
            FindingsSection.Append(html, findings);
        }

        html.Append("<h3>Trace</h3>\n<table class=\"facts\"><tr>");
        IReadOnlyList<KeyValuePair<string, double>> facts = o.Trace.NumericFacts();
        foreach (var (key, value) in facts)
        {
            html.Append(CultureInfo.InvariantCulture, $"<th>{E(key)}</th>");
        }

        html.Append("</tr><tr>");
        foreach (var (key, value) in facts)
        {
            html.Append(CultureInfo.InvariantCulture, $"<td>{Figures.Format(key, value)}</td>");
        }

        html.Append("</tr></table>\n");
        if (o.Trace.Counts.Any(kv => kv.Value > 0))
        {
            html.Append("<p>calls by kind: ")
                .Append(string.Join(", ", o.Trace.Counts.Where(kv => kv.Value > 0).Select(kv => $"{E(kv.Key)} {Figures.Count(kv.Value)}"))).Append("</p>\n");
        }

        Distributions(html, o);
        html.Append("<h3>Summary</h3>\n<table><tr><th>engine</th>");
        foreach (var (_, header) in SummaryColumns)
        {
            html.Append(CultureInfo.InvariantCulture, $"<th>{E(header)}</th>");
        }

        html.Append("</tr>\n");
        foreach (EngineOutput e in o.Engines)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"engine\">{E(e.Engine)}</td>");
            if (e.Error is not null)
            {
                string what = e.Summary.Skipped ? "skipped" : "error";
                html.Append(CultureInfo.InvariantCulture, $"<td class=\"{what}\" colspan=\"{SummaryColumns.Length}\">{what}: {E(e.Error)}</td></tr>\n");
                continue;
            }

            foreach (var (field, _) in SummaryColumns)
            {
                double? v = e.Figure(field);
                html.Append("<td>").Append(v is { } x ? Figures.Format(field, x) : "&ndash;").Append("</td>");
            }

            html.Append("</tr>\n");
        }

        html.Append("</table>\n");
        foreach (EngineOutput e in o.Engines.Where(e => e.Error is null && e.Summary.Timing?.Gc is not null))
        {
            html.Append(GcLine(e.Engine, e.Summary.Timing!.Gc!)).Append('\n');
        }

        html.Append("<h3>Over time</h3>\n");
        Plot(html, $"{o.Name}: RSS (resident memory)", SeriesPlot.Quantity.Rss, o.Engines, axis);
        Plot(html, $"{o.Name}: footprint (committed memory)", SeriesPlot.Quantity.Footprint, o.Engines, axis);
        if (o.Engines.Any(e => e.Series.Any(r => r.AddressSpaceBytes > 0)))
        {
            Plot(html, $"{o.Name}: address space (reservations included)", SeriesPlot.Quantity.AddressSpace, o.Engines, axis);
        }

        Plot(html, $"{o.Name}: fragmentation", SeriesPlot.Quantity.Fragmentation, o.Engines, axis);
        string liveTitle = $"{o.Name}: live bytes by request size";
        if (LiveBySizePlot.Svg(liveTitle, o.LiveBySize, axis) is { } liveSvg)
        {
            SvgFigure.Append(html, liveTitle, LiveBySizePlot.Width, LiveBySizePlot.Height, liveSvg,
                "what the program held, by the size it asked for: which sizes make up the peak, and which stay live to the end");
        }

        html.Append("<h3>Latency per call</h3>\n");
        var kinds = o.Engines.SelectMany(e => e.Latency.Select(kv => kv.Key)).Distinct(StringComparer.Ordinal).ToList();
        if (kinds.Count == 0)
        {
            html.Append("<p>No latency figures.</p>\n");
        }

        foreach (string kind in kinds)
        {
            html.Append(CultureInfo.InvariantCulture, $"<table class=\"latency\"><caption>{E(kind)}</caption><tr><th>engine</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>calls</th></tr>\n");
            foreach (EngineOutput e in o.Engines)
            {
                if (e.Error is not null)
                {
                    html.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"engine\">{E(e.Engine)}</td><td class=\"error\" colspan=\"6\">error (see summary)</td></tr>\n");
                    continue;
                }

                LatencyFigures? l = e.Latency.FirstOrDefault(kv => kv.Key == kind).Value;
                if (l is null)
                {
                    continue;
                }

                IReadOnlyList<EngineRun> runs = e.Summary.Runs ?? [];
                string engine = runs.Count > 1
                    ? string.Create(CultureInfo.InvariantCulture, $"{E(e.Engine)} <small>(median of {runs.Count} runs)</small>")
                    : E(e.Engine);
                html.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"engine\">{engine}</td>");
                foreach (var (name, value) in l.Named())
                {
                    html.Append(CultureInfo.InvariantCulture, $"<td{RunsTitle(runs, $"latency.{kind}.{name}", Figures.Latency)}>{Figures.Latency(value)}</td>");
                }

                html.Append(CultureInfo.InvariantCulture, $"<td>{Figures.Count(l.Count)}</td></tr>\n");
            }

            html.Append("</table>\n");
        }

        foreach (string kind in kinds.Where(k => k is "malloc" or "free"))
        {
            string title = $"{o.Name}: {kind} latency distribution";
            if (LatencyCdfPlot.Svg(title, kind, o.Engines) is { } cdf)
            {
                string clocks = string.Join(", ", o.Engines.Where(e => e.Summary.Timing is { LatencyClock.Length: > 0 }).Select(e => $"{e.Engine}: {e.Summary.Timing!.LatencyClock}"));
                SvgFigure.Append(html, title, LatencyCdfPlot.Width, LatencyCdfPlot.Height, cdf,
                    $"Share of calls at or below each latency, from each engine's histogram (buckets 1/16 of a power of two wide); {clocks}. " +
                    "Each thread's first call is timed apart and not drawn.");
            }

            string bySize = $"{o.Name}: {kind} latency by request size";
            if (LatencyBySizePlot.Svg(bySize, kind, o.Engines) is { } sized)
            {
                SvgFigure.Append(html, bySize, LatencyBySizePlot.Width, LatencyBySizePlot.Height, sized);
            }
        }

        html.Append("</details></section>\n");
    }

    /// <summary>
    /// The sentence on an engine's garbage collections: flagged (class "gc warn") when a collection fell inside a timed
    /// window, by the in-process count or by the runtime's events, or when the runtime's events could not prove it.
    /// </summary>
    private static string GcLine(string engine, GcFigures gc)
    {
        var inv = CultureInfo.InvariantCulture;
        long inWindows = Math.Max(gc.CollectionsInTimedReplay, Math.Max(gc.CollectionsInTimedWindowsInProcess, gc.CollectionsInTimedWindows ?? 0));
        string proof = gc.CollectionsInTimedWindows is { } events
            ? string.Create(inv,
                $" Runtime events (--gc-proof): {events} collection(s) in {gc.TimedWindows} timed window(s), {gc.EventsLost} event(s) lost, {gc.CollectionsInTimedWindowsInProcess} counted in process: the proof {(gc.ProofHolds == true ? "holds" : "does not hold")}.")
            : "";
        string heap = gc.HeapSizeBytes is { } size
            ? string.Create(inv, $" Managed heap at the last collection: {Figures.Count(size)} bytes, {Figures.Count(gc.HeapCommittedBytes ?? 0)} committed.")
            : "";
        // The model's latency is its own only when no collection fell inside a timed call.
        if (inWindows == 0 && gc.ProofHolds != false)
        {
            return string.Create(inv,
                $"<p class=\"gc\">{E(engine)}: no garbage collection during the timed replay ({gc.CollectionsTotal} in the whole run, warm-up included).{E(proof)}{E(heap)}</p>");
        }

        return inWindows == 0
            ? string.Create(inv, $"<p class=\"gc warn\">{E(engine)}: no garbage collection counted in process during the timed replay, but the runtime's events do not prove it.{E(proof)}{E(heap)}</p>")
            : string.Create(inv,
                $"<p class=\"gc warn\">{E(engine)}: {inWindows} garbage collection(s) during the timed replay ({gc.PauseNsInTimedReplay / 1e6:F1} ms paused): a call timed across one measured the runtime, not the model.{E(proof)}{E(heap)}</p>");
    }

    /// <summary>The trace's request sizes and block lifetimes (from summary.json; absent in older files).</summary>
    private static void Distributions(StringBuilder html, ReplayOutput o)
    {
        (Distribution? D, string Title, string X, DistributionPlot.Unit Unit)[] plots =
        [
            (o.Trace.Sizes, $"{o.Name}: request sizes", "requested bytes (power-of-two buckets)", DistributionPlot.Unit.Bytes),
            (o.Trace.LifetimeCalls, $"{o.Name}: block lifetimes in calls", "calls from allocation to free", DistributionPlot.Unit.Count),
            (o.Trace.LifetimeNs, $"{o.Name}: block lifetimes in time", "recorded time from allocation to free", DistributionPlot.Unit.Nanoseconds),
        ];
        foreach (var (d, title, x, unit) in plots)
        {
            if (d is not null && DistributionPlot.Svg(title, x, d, unit) is { } svg)
            {
                SvgFigure.Append(html, title, DistributionPlot.Width, DistributionPlot.Height, svg,
                    string.Create(CultureInfo.InvariantCulture, $"{d.Of}; {d.Total():N0} values"));
            }
        }
    }

    private static void Plot(StringBuilder html, string title, SeriesPlot.Quantity quantity, IReadOnlyList<EngineOutput> engines, SeriesAxis axis)
    {
        string? svg = SeriesPlot.Svg(title, quantity, engines, axis);
        if (svg is null)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p>{E(title)}: no series (every engine failed or the CSVs are missing).</p>\n");
            return;
        }

        SvgFigure.Append(html, title, SeriesPlot.Width, SeriesPlot.Height, svg);
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A title attribute listing each run's value of <paramref name="figure"/> (shown on hover), or "" for one run.</summary>
    private static string RunsTitle(IReadOnlyList<EngineRun> runs, string figure, Func<double, string>? format = null) =>
        runs.Count > 1 && RunStatistics.Values(runs, figure) is { } values
            ? $" title=\"runs: {E(string.Join(", ", values.Select(format ?? Figures.Plain)))}\""
            : "";

    private const string Css = """
        body { font-family: sans-serif; margin: 2em; max-width: 1100px; color: #222; }
        h2 { border-bottom: 2px solid #555; margin-top: 2.5em; }
        summary h2 { display: inline-block; margin-top: 1.5em; }
        summary { cursor: pointer; }
        nav.toc ul { margin: 0.2em 0; }
        nav.toc li { margin: 0.1em 0; }
        table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
        th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }
        th { background: #eee; }
        td.engine, td.workload { text-align: left; font-weight: bold; }
        td.error { text-align: left; color: #a00; }
        td.skipped { text-align: left; color: #777; }
        p.gc.warn { color: #a00; font-weight: bold; }
        caption { text-align: left; font-weight: bold; padding: 0.2em 0; }
        table.latency { display: inline-table; margin-right: 1.5em; vertical-align: top; }
        .meta { color: #666; font-size: 0.85em; }
        figure { margin: 0.5em 0; }
        dt { font-weight: bold; margin-top: 0.4em; }

        """;

    private const string HowToRead = """
        <section><h2>How to read this</h2><dl>
        <dt>Engines</dt><dd><b>sim</b> is PtReplay's C# model of glibc 2.36 ptmalloc (deterministic: the same trace always gives the
        same figures); <b>glibc</b>, <b>jemalloc</b>, <b>tcmalloc</b>, <b>mimalloc</b> are the real allocators driven by the native
        replayer with the recorded call sequence. An engine that could not run shows its error instead of figures. In the plots
        sim is drawn before glibc: where the model matches glibc exactly, its line lies hidden under glibc's.</dd>
        <dt>Live bytes</dt><dd>What the program asked for and had not freed yet: the same for every engine. The thin black line in
        the memory plots. The plot "live bytes by request size" splits it by the size of each request (the classes of the
        latency tables), smallest at the bottom: which sizes make up the peak, and which stay live to the end.</dd>
        <dt>x axis</dt><dd>The call index (every engine replays the same calls in the same order) or, with
        <code>ptreplay report --x-axis time</code>, the recorded time of that call: stretches where the program made no
        calls then show as flat lines.</dd>
        <dt>RSS</dt><dd>The allocator's resident memory: the pages of its memory the kernel backs, the replay harness's own
        memory excluded. The replay writes one byte per page of each block (the <i>page</i> touch model), so RSS reflects a
        program that uses its memory; freed memory counts until the allocator returns it (trim, madvise, munmap).</dd>
        <dt>Footprint</dt><dd>Committed memory: the writable private address space the allocator holds (program break extent
        and writable anonymous mappings), measured the same way for every engine, whether touched or not.</dd>
        <dt>Address space</dt><dd>Everything the allocator mapped, reservations that cost nothing until touched included
        (each glibc arena reserves 64 MiB).</dd>
        <dt>Allocator-reported bytes</dt><dd>What the allocator's own statistics say it holds (mallinfo2, stats.mapped, ...): a
        column of its own, never used as footprint.</dd>
        <dt>Fragmentation</dt><dd>(RSS - live) / RSS at each sample, between 0 and 1: 0 means every resident byte holds live
        data. "frag. at peak RSS" is its value at the sample of the largest RSS (the first samples, a few bytes in a
        fresh page, read close to 1 for every allocator, so the largest value over all samples would say nothing).</dd>
        <dt>Johnstone &amp; Wilson ratios</dt><dd>RSS at the moment of peak live bytes divided by peak live bytes, and peak
        RSS divided by peak live bytes (Johnstone and Wilson, "The memory fragmentation problem: solved?", 1998). 1.0 is
        perfect; lower is better.</dd>
        <dt>Pace</dt><dd>max: the calls replayed as fast as possible; recorded: at the program's own pace (allocators that
        return memory on a timer then do so as in the program). Sampling time is excluded from wall time and latency.</dd>
        <dt>Latency</dt><dd>Time of each call in nanoseconds (p50 = median, p99.9 = one call in a thousand is slower). Native
        engines are timed with the cycle counter around each call; the model's figures are the C# model's own cost and are not
        comparable with the real allocators. The model is timed at steady state: it first warms up on scratch copies of itself
        (the <i>warm-up ns</i> column, left out of its wall time and latency), so a short trace measures what a long one does.
        Latency varies from run to run; memory figures of a serial glibc replay do not. An engine replayed several times
        (<code>replay --repeat N</code>) shows the median of its runs; hovering a figure lists each run's.</dd>
        </dl></section>

        """;
}
