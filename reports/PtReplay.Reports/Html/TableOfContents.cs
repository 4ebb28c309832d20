using System.Globalization;
using System.Net;
using System.Text;
using PtReplay.Reports.Input;

namespace PtReplay.Reports.Html;

/// <summary>
/// The report's table of contents: the workloads as the process tree they were recorded in (a forked or exec'd process
/// under the process that started it, by the pid and parent pid in their traces; a workload whose parent is not in the
/// report is a root), each linked to its section and labelled with its command line.
/// </summary>
public static class TableOfContents
{
    /// <summary>Command lines longer than this are cut in the contents (the section shows them whole).</summary>
    public const int CommandChars = 100;

    /// <summary>Appends the contents for <paramref name="outputs"/>.</summary>
    public static void Append(StringBuilder html, IReadOnlyList<ReplayOutput> outputs, WorkloadAnchors anchors)
    {
        ArgumentNullException.ThrowIfNull(html);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(anchors);
        var byPid = new Dictionary<int, ReplayOutput>();
        foreach (ReplayOutput o in outputs)
        {
            if (o.Trace.Pid is { } pid)
            {
                byPid.TryAdd(pid, o); // an exec'd image keeps its pid: the first (the started program) is the parent
            }
        }

        var children = new Dictionary<ReplayOutput, List<ReplayOutput>>(ReferenceEqualityComparer.Instance);
        var roots = new List<ReplayOutput>();
        foreach (ReplayOutput o in outputs)
        {
            ReplayOutput? parent = ParentOf(o, byPid);
            if (parent is null)
            {
                roots.Add(o);
            }
            else
            {
                if (!children.TryGetValue(parent, out List<ReplayOutput>? list))
                {
                    children[parent] = list = [];
                }

                list.Add(o);
            }
        }

        html.Append(CultureInfo.InvariantCulture, $"<nav class=\"toc\"><h2>Contents</h2>\n<p class=\"meta\">{outputs.Count} workload(s); a process is listed under the one that forked or exec'd it.</p>\n<ul>\n");
        var seen = new HashSet<ReplayOutput>(ReferenceEqualityComparer.Instance);
        foreach (ReplayOutput root in roots)
        {
            Item(html, root, children, anchors, seen);
        }

        html.Append("</ul></nav>\n");
    }

    private static ReplayOutput? ParentOf(ReplayOutput o, Dictionary<int, ReplayOutput> byPid)
    {
        if (o.Trace.Pid is { } pid && byPid.TryGetValue(pid, out ReplayOutput? same) && !ReferenceEquals(same, o))
        {
            return same; // a later image of the same process (exec)
        }

        return o.Trace.ParentPid is { } ppid && byPid.TryGetValue(ppid, out ReplayOutput? parent) && !ReferenceEquals(parent, o) ? parent : null;
    }

    private static void Item(StringBuilder html, ReplayOutput o, Dictionary<ReplayOutput, List<ReplayOutput>> children, WorkloadAnchors anchors, HashSet<ReplayOutput> seen)
    {
        if (!seen.Add(o))
        {
            return;
        }

        string command = o.Trace.CommandLine ?? "";
        if (command.Length > CommandChars)
        {
            command = command[..CommandChars] + "...";
        }

        html.Append(CultureInfo.InvariantCulture, $"<li><a href=\"#{anchors[o]}\">{WebUtility.HtmlEncode(o.Name)}</a>")
            .Append(o.Trace.Pid is { } pid ? string.Create(CultureInfo.InvariantCulture, $" <span class=\"meta\">pid {pid}</span>") : "")
            .Append(command.Length > 0 ? $" <code>{WebUtility.HtmlEncode(command)}</code>" : "");
        if (children.TryGetValue(o, out List<ReplayOutput>? kids))
        {
            html.Append("\n<ul>\n");
            foreach (ReplayOutput kid in kids)
            {
                Item(html, kid, children, anchors, seen);
            }

            html.Append("</ul>");
        }

        html.Append("</li>\n");
    }
}
