namespace PtReplay.Traces.ProcessTrees;

/// <summary>Builds the tree of a recording's traces from their headers' parent links.</summary>
public static class TraceTree
{
    /// <summary>
    /// The roots of the tree formed by <paramref name="paths"/> (normally one: the started program's trace),
    /// each node linked to the trace it continues when that trace is among <paramref name="paths"/>.
    /// Roots and children are in start order.
    /// </summary>
    public static IReadOnlyList<TraceTreeNode> Build(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var nodes = new Dictionary<string, TraceTreeNode>(StringComparer.Ordinal);
        foreach (string path in paths)
        {
            string full = System.IO.Path.GetFullPath(path);
            using TraceReader reader = TraceReader.Open(full);
            nodes[full] = new TraceTreeNode(full, reader.Header, reader.IsTruncated);
        }

        var roots = new List<TraceTreeNode>();
        foreach (TraceTreeNode node in nodes.Values)
        {
            string? parent = ProcessLink.ParentFile(node.Path, node.Header);
            if (parent is not null && nodes.TryGetValue(System.IO.Path.GetFullPath(parent), out TraceTreeNode? p) && p != node)
            {
                node.Parent = p;
                p.ChildList.Add(node);
            }
            else
            {
                roots.Add(node);
            }
        }

        foreach (TraceTreeNode node in nodes.Values)
        {
            node.ChildList.Sort(ByStart);
        }

        roots.Sort(ByStart);
        return roots;
    }

    private static int ByStart(TraceTreeNode a, TraceTreeNode b)
    {
        int c = a.Header.StartRealtimeNs.CompareTo(b.Header.StartRealtimeNs);
        return c != 0 ? c : string.CompareOrdinal(a.Path, b.Path);
    }
}
