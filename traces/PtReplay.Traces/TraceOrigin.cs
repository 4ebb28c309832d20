namespace PtReplay.Traces;

/// <summary>How a recorded process image began (header field 15, traces/FORMAT.md "Process trees").</summary>
public enum TraceOrigin
{
    /// <summary>The program `record` started (or a trace that does not say: imports, older recordings).</summary>
    StartedProgram = 0,

    /// <summary>A fork child: its heap was its parent's at the fork, and its trace continues from there.</summary>
    ForkedChild = 1,

    /// <summary>A program image exec'd by a recorded process: it starts from an empty heap.</summary>
    ExecutedImage = 2,
}
