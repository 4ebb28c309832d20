using System.Globalization;
using System.Text;
using PtReplay.Results.Findings;

namespace PtReplay.Cli.Commands;

/// <summary>The allocation-site tables of `explain` and `info --sites`: the top sites by peak live bytes, by calls and by free bytes pinned.</summary>
public static class SitesText
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>What to say when the trace has no stacks.</summary>
    public const string NoStacks = "recorded without --stacks; record with `ptreplay record --stacks -- ...` to see allocation sites";

    /// <summary>Appends the three rankings of <paramref name="f"/>'s sites, <paramref name="top"/> each.</summary>
    public static void Append(StringBuilder sb, HeapFindingsFile f, int top)
    {
        ArgumentNullException.ThrowIfNull(sb);
        ArgumentNullException.ThrowIfNull(f);
        if (!f.StacksRecorded)
        {
            sb.Append("allocation sites: ").Append(NoStacks).Append('\n');
            return;
        }

        string moments = string.Join(" / ", f.Moments.Select(m => m.At));
        sb.Append(Inv, $"allocation sites ({f.SiteCount:N0} in all; a site is the first frame outside malloc, operator new and the recorder):\n");
        Table(sb, "by peak live bytes (requested bytes live at the trace's peak of live bytes)", f.Sites.Where(s => s.PeakLiveBytes > 0).OrderByDescending(s => s.PeakLiveBytes).Take(top), moments);
        Table(sb, "by calls", f.Sites.OrderByDescending(s => s.Calls).Take(top), moments);
        Table(sb, $"by free bytes pinned below their live chunks in the model's heap (at {moments})", f.Sites.Where(s => s.MostPinnedBytes() > 0).OrderByDescending(s => s.MostPinnedBytes()).Take(top), moments);
    }

    private static void Table(StringBuilder sb, string title, IEnumerable<SiteFigures> rows, string moments)
    {
        var list = rows.ToList();
        sb.Append("  ").Append(title).Append(list.Count == 0 ? ": none\n" : ":\n");
        if (list.Count == 0)
        {
            return;
        }

        sb.Append(Inv, $"    {"peak live",12} {"calls",12} {"requested",12} {"pinned " + moments,20}  site\n");
        foreach (SiteFigures s in list)
        {
            sb.Append(Inv, $"    {B(s.PeakLiveBytes),12} {s.Calls,12:N0} {B(s.RequestedBytes),12} {string.Join(" / ", s.PinnedBytes.Select(B)),20}  {s.Site.Describe()}\n");
        }
    }

    /// <summary>A pin's site in words: "allocated in f (file.c:12) <- caller <- ...", or "" when it has none.</summary>
    public static string PinSite(HeapPin p, int callers = 2)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (p.Site is not { } site)
        {
            return "";
        }

        int at = site.Stack.ToList().FindIndex(fr => fr.Function == site.Function && fr.File == site.File && fr.Line == site.Line);
        var outer = at < 0 ? [] : site.Stack.Skip(at + 1).Take(callers).Select(fr => fr.Function).ToList();
        return $"; allocated in {site.Describe()}{(outer.Count > 0 ? " <- " + string.Join(" <- ", outer) : "")}";
    }

    private static string B(ulong bytes) => PtReplay.Reports.Html.Figures.Bytes(bytes);
}
