namespace PtReplay.Traces.ProcessTrees;

/// <summary>
/// One trace in a recording's tree: a process image, the trace it continues (<see cref="Parent"/>) and the
/// traces that continue it (fork children and exec'd images, in start order).
/// </summary>
public sealed class TraceTreeNode
{
    internal TraceTreeNode(string path, TraceHeader header, bool truncated)
    {
        Path = path;
        Header = header;
        Truncated = truncated;
    }

    /// <summary>The trace file.</summary>
    public string Path { get; }

    /// <summary>Its header: pid, parent pid, command line, origin.</summary>
    public TraceHeader Header { get; }

    /// <summary>True when the trace has no end block (the process was killed or crashed).</summary>
    public bool Truncated { get; }

    /// <summary>The trace this one continues; null for a root.</summary>
    public TraceTreeNode? Parent { get; internal set; }

    /// <summary>Traces that continue this one, in start order.</summary>
    public IReadOnlyList<TraceTreeNode> Children => _children;

    internal List<TraceTreeNode> ChildList => _children;

    private readonly List<TraceTreeNode> _children = [];
}
