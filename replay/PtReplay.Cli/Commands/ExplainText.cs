using System.Globalization;
using System.Text;
using PtReplay.Results.Findings;
using PtReplay.Results.HeapMaps;

namespace PtReplay.Cli.Commands;

/// <summary>The text of `ptreplay explain`: findings.json in plain words.</summary>
public static class ExplainText
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The text for <paramref name="f"/>.</summary>
    public static string Format(HeapFindingsFile f)
    {
        ArgumentNullException.ThrowIfNull(f);
        var sb = new StringBuilder();
        sb.Append(Inv, $"{f.Trace}: the model with {(f.Tunables.Length == 0 ? "glibc's default tunables" : f.Tunables)}\n");
        sb.Append(Inv, $"committed footprint: peak {B(f.Baseline.PeakCommittedBytes)}, end {B(f.Baseline.EndCommittedBytes)}\n");
        foreach (HeapMoment m in f.Moments)
        {
            sb.Append('\n');
            sb.Append(Inv, $"at {m.At} (op {m.Ops:N0}, trace event {m.EventIndex:N0}): committed {B(m.CommittedBytes)}; in use {B(m.InUseBytes)}, " +
                $"free {B(m.FreeBytes)}, top {B(m.TopBytes)}, mmapped {B(m.MmappedBytes)}\n");
            if (m.FreeByKind.Count > 0)
            {
                sb.Append("  free memory by bin: ");
                sb.AppendJoin(", ", m.FreeByKind.Select(r => string.Create(Inv, $"{r.Kind} {B(r.Bytes)} ({r.Count:N0} chunks)")));
                sb.Append('\n');
                sb.Append("  size classes holding most of it: ");
                sb.AppendJoin(", ", m.FreeBySize.Take(5).Select(r => string.Create(Inv, $"{r.Size:N0} B chunks in {r.Kind} x{r.Count:N0} = {B(r.Bytes)}")));
                sb.Append('\n');
            }

            if (m.SizeClasses.Count > 0)
            {
                sb.Append("  internal (chunk beyond request) against external (free chunks) fragmentation by chunk size, largest first:\n");
                foreach (SizeClassFigures c in m.SizeClasses.OrderByDescending(c => c.LiveChunkBytes - c.RequestedBytes + c.FreeBytes).Take(6))
                {
                    sb.Append(Inv, $"    {B(c.MinChunkBytes)}-{B(c.MaxChunkBytes)}: {c.LiveChunks:N0} live chunks, {B(c.RequestedBytes)} requested in {B(c.LiveChunkBytes)} " +
                        $"(internal {B(c.LiveChunkBytes - c.RequestedBytes)}); {c.FreeChunks:N0} free chunks, {B(c.FreeBytes)} (external)\n");
                }
            }

            sb.Append(Inv, $"  malloc_trim(0) would give back {B(m.Trim.CommittedBytes)} committed, {B(m.Trim.ResidentBytes)} resident\n");
            ulong pinned = m.PinnedBytes();
            if (pinned == 0)
            {
                sb.Append("  no free memory is pinned below a live chunk\n");
                continue;
            }

            sb.Append(Inv, $"  {B(pinned)} of free memory is pinned below {m.PinCount:N0} live chunk(s) (a heap shrinks only from its top); " +
                $"{(m.Pins.Count < m.PinCount ? string.Create(Inv, $"the {m.Pins.Count} holding the most") : "each")}:\n");
            foreach (HeapPin p in m.Pins)
            {
                string age = p.AllocatedAtEvent < 0
                    ? "not allocated by the trace (the allocator's own)"
                    : p.AllocatedInTrace is { } parent
                    ? string.Create(Inv, $"inherited at the fork: allocated at event {p.AllocatedAtEvent:N0} of {Path.GetFileName(parent)}")
                    : string.Create(Inv, $"allocated at event {p.AllocatedAtEvent:N0}{(p.AllocatedAtNs is { } ns ? string.Create(Inv, $" ({ns / 1e9:0.######} s)") : "")}, " +
                        $"{p.AgeEvents:N0} events old");
                sb.Append(Inv, $"    arena {p.Arena} {p.Heap}, live chunk {p.Rank:N0} from the top: 0x{p.Address:x}, {p.ChunkBytes:N0} B chunk, {age}; holds {B(p.HostageBytes)}" +
                    $"{(p.Rank > 1 ? string.Create(Inv, $" (freed with every live chunk above it: {B(p.CumulativeHostageBytes)})") : "")}{SitesText.PinSite(p)}\n");
            }

            if (m.PinnedBytesNotListed > 0)
            {
                sb.Append(Inv, $"    and {B(m.PinnedBytesNotListed)} below pins not listed (--pins)\n");
            }
        }

        if (f.StacksRecorded)
        {
            sb.Append('\n');
            SitesText.Append(sb, f, 5);
        }

        if (f.Suggestions.Count > 0 || f.Rejected.Count > 0)
        {
            sb.Append("\nwhat would change it (the model's prediction of the committed footprint, peak / end):\n");
            foreach (TunableSuggestion s in f.Suggestions)
            {
                sb.Append(Inv, $"  {s.Tunable}: peak {B(s.Predicted.PeakCommittedBytes)} ({Change(f.Baseline.PeakCommittedBytes, s.Predicted.PeakCommittedBytes)}), " +
                    $"end {B(s.Predicted.EndCommittedBytes)} ({Change(f.Baseline.EndCommittedBytes, s.Predicted.EndCommittedBytes)}); tried because {s.Why}\n");
            }

            if (f.Suggestions.Count == 0)
            {
                sb.Append("  none of the tunables tried would lower it\n");
            }

            if (f.Rejected.Count > 0)
            {
                sb.Append("  tried, no gain: ");
                sb.AppendJoin(", ", f.Rejected.Select(s => s.Error is null ? s.Tunable : $"{s.Tunable} (the model aborted: {s.Error})"));
                sb.Append('\n');
            }
        }

        return sb.ToString();
    }

    private static string B(ulong bytes) => PtReplay.Reports.Html.Figures.Bytes(bytes);

    private static string Change(ulong from, ulong to) =>
        from == 0 ? "n/a" : string.Create(Inv, $"{((double)to - from) / from * 100:+0.#;-0.#;0}%");
}
