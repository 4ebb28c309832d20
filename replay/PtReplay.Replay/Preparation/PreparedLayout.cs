namespace PtReplay.Replay.Preparation;

/// <summary>
/// What a planning pass of <see cref="TracePreparer"/> (no output) learned that a prepared file's tables need before its
/// first op is written: each thread's op and sample counts (where its stretch of each table starts), the thread flags,
/// and the op that gets the peak's sample. A second pass over the same events, which makes the same ops, writes them
/// straight to their places (<see cref="PreparedStreamWriter"/>). Size: O(threads).
/// </summary>
internal sealed class PreparedLayout
{
    /// <summary>Ops of each thread.</summary>
    public required long[] ThreadOps { get; init; }

    /// <summary>Sampled ops of each thread.</summary>
    public required long[] ThreadSamples { get; init; }

    /// <summary>Flags of each thread.</summary>
    public required ThreadMarks[] Flags { get; init; }

    /// <summary>Thread that runs seq 0.</summary>
    public required int FirstThread { get; init; }

    /// <summary>Seq of the op that gets the peak's sample after the fact (-1: none), and that sample's id.</summary>
    public required long PatchSeq { get; init; }

    /// <summary>Sample id of <see cref="PatchSeq"/>.</summary>
    public required int PatchSampleId { get; init; }
}
