namespace PtReplay.Replay.Sim;

/// <summary>Where <see cref="SimSnapshot"/> stops the model.</summary>
public enum SimStopKind
{
    /// <summary>After a given number of ops of the prepared trace (<see cref="SimStop.Ops"/>; 0: before the first).</summary>
    AfterOps,

    /// <summary>After the first op at which the model's committed footprint reached its maximum over the whole trace.</summary>
    PeakFootprint,

    /// <summary>After the last op.</summary>
    End,
}

/// <summary>A stop point of the model's replay.</summary>
/// <param name="Kind">What kind of stop.</param>
/// <param name="Ops">For <see cref="SimStopKind.AfterOps"/>: how many ops to replay (0 to the trace's op count).</param>
public readonly record struct SimStop(SimStopKind Kind, long Ops = 0);
