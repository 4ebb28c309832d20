namespace PtReplay.Replay.Timing;

/// <summary>
/// A clock read for timing one model call. The sim engine's per-call code is generic over a struct
/// implementing this, so the JIT compiles one copy per clock with the read inlined (no virtual
/// call, no branch on the clock kind inside the timed region).
/// </summary>
public interface ITickSource
{
    /// <summary>The current reading, in the clock's own ticks (monotonic, never decreasing on one thread).</summary>
    static abstract long Now();
}
