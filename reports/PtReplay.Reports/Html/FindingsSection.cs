using System.Globalization;
using System.Net;
using System.Text;
using PtReplay.Results.Findings;

namespace PtReplay.Reports.Html;

/// <summary>
/// The top of a workload in the HTML report when the replay explained it (findings.json): per moment the free memory by
/// bin, what malloc_trim would return and the live chunks pinning the most free memory, then the tunables the model
/// predicts would lower the footprint.
/// </summary>
public static class FindingsSection
{
    /// <summary>Pins shown per moment.</summary>
    public const int PinsShown = 3;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Appends the section for <paramref name="f"/>.</summary>
    public static void Append(StringBuilder html, HeapFindingsFile f)
    {
        ArgumentNullException.ThrowIfNull(html);
        ArgumentNullException.ThrowIfNull(f);
        html.Append("<div class=\"findings\"><h3>Findings (the model's heap)</h3>\n<ul>\n");
        foreach (HeapMoment m in f.Moments)
        {
            ulong pinned = m.PinnedBytes();
            html.Append(Inv, $"<li><b>At {E(m.At)}</b> (trace event {m.EventIndex:N0}): committed {Mib(m.CommittedBytes)} MiB, in use {Mib(m.InUseBytes)} MiB, " +
                $"free {Mib(m.FreeBytes)} MiB, top {Mib(m.TopBytes)} MiB, mmapped {Mib(m.MmappedBytes)} MiB. ");
            if (m.FreeByKind.Count > 0)
            {
                html.Append("Free by bin: ").Append(E(string.Join(", ", m.FreeByKind.Select(r => string.Create(Inv, $"{r.Kind} {Mib(r.Bytes)} MiB"))))).Append(". ");
            }

            var worst = m.SizeClasses.OrderByDescending(c => c.LiveChunkBytes - c.RequestedBytes + c.FreeBytes).Take(3).ToList();
            if (worst.Count > 0)
            {
                html.Append("Chunk size classes wasting most (internal: chunk beyond request; external: free chunks): ")
                    .Append(E(string.Join("; ", worst.Select(c => string.Create(Inv,
                        $"{c.MinChunkBytes:N0}-{c.MaxChunkBytes:N0} B: internal {Mib(c.LiveChunkBytes - c.RequestedBytes)} MiB, external {Mib(c.FreeBytes)} MiB")))))
                    .Append(". ");
            }

            html.Append(Inv, $"malloc_trim(0) would give back {Mib(m.Trim.CommittedBytes)} MiB committed, {Mib(m.Trim.ResidentBytes)} MiB resident. ");
            if (pinned == 0)
            {
                html.Append("No free memory is pinned below a live chunk.</li>\n");
                continue;
            }

            html.Append(Inv, $"{Mib(pinned)} MiB of free memory is pinned below {m.PinCount:N0} live chunk(s); the largest pins:<ul>\n");
            foreach (HeapPin p in m.Pins.Take(PinsShown))
            {
                string age = p.AllocatedAtEvent < 0 ? "the allocator's own block"
                    : p.AllocatedInTrace is { } parent ? string.Create(Inv, $"inherited at the fork: allocated at event {p.AllocatedAtEvent:N0} of {Path.GetFileName(parent)}")
                    : string.Create(Inv, $"allocated at event {p.AllocatedAtEvent:N0}, {p.AgeEvents:N0} events earlier");
                string site = p.Site is { } s ? $"; allocated in <code>{E(s.Describe())}</code>" : "";
                html.Append(Inv, $"<li><code>0x{p.Address:x}</code> ({E(p.Heap)} of arena {p.Arena}, live chunk {p.Rank:N0} from the top, {p.ChunkBytes:N0} B; {E(age)}{site}) " +
                    $"holds {Mib(p.HostageBytes)} MiB</li>\n");
            }

            html.Append("</ul></li>\n");
        }

        html.Append("</ul>\n");
        AppendSites(html, f);
        if (f.Suggestions.Count > 0)
        {
            html.Append("<p>What the model predicts would lower the committed footprint (peak / end, now ")
                .Append(Inv, $"{Mib(f.Baseline.PeakCommittedBytes)} / {Mib(f.Baseline.EndCommittedBytes)} MiB):</p>\n<ul>\n");
            foreach (TunableSuggestion s in f.Suggestions)
            {
                html.Append(Inv, $"<li><code>{E(s.Tunable)}</code>: {Mib(s.Predicted.PeakCommittedBytes)} / {Mib(s.Predicted.EndCommittedBytes)} MiB ({E(s.Why)})</li>\n");
            }

            html.Append("</ul>\n");
        }
        else if (f.Rejected.Count > 0)
        {
            html.Append("<p>None of the tunables tried would lower the footprint: ").Append(E(string.Join(", ", f.Rejected.Select(s => s.Tunable)))).Append(".</p>\n");
        }

        html.Append(Inv, $"<p class=\"meta\">{E(f.PinDefinition)}</p></div>\n");
    }

    /// <summary>Sites shown in the report's table.</summary>
    public const int SitesShown = 10;

    // The top sites table: those pinning the most first, then by peak live bytes; nothing when the trace has no stacks.
    private static void AppendSites(StringBuilder html, HeapFindingsFile f)
    {
        if (!f.StacksRecorded || f.Sites.Count == 0)
        {
            return;
        }

        string moments = string.Join(" / ", f.Moments.Select(m => m.At));
        html.Append(Inv, $"<table class=\"sites\"><caption>Top allocation sites ({f.SiteCount:N0} in all)</caption>\n")
            .Append(Inv, $"<tr><th>site</th><th>calls</th><th>requested MiB</th><th>live at peak MiB</th><th>pinned MiB ({E(moments)})</th></tr>\n");
        foreach (SiteFigures s in f.Sites.OrderByDescending(s => s.MostPinnedBytes()).ThenByDescending(s => s.PeakLiveBytes).Take(SitesShown))
        {
            string stack = string.Join(" <- ", s.Site.Stack.Select(fr => fr.Function));
            html.Append(Inv, $"<tr><td><code title=\"{E(stack)}\">{E(s.Site.Describe())}</code></td><td>{s.Calls:N0}</td><td>{Mib(s.RequestedBytes)}</td>" +
                $"<td>{Mib(s.PeakLiveBytes)}</td><td>{E(string.Join(" / ", s.PinnedBytes.Select(Mib)))}</td></tr>\n");
        }

        html.Append("</table>\n");
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private static string Mib(ulong bytes) => (bytes / 1048576.0).ToString("0.00", Inv);
}
