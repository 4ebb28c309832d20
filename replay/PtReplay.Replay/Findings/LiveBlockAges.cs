namespace PtReplay.Replay.Findings;

/// <summary>
/// For every block live in a model replay, the prepared op that allocated it (a realloc that moves a block counts as
/// its allocation; one that stays in place keeps the block's first op).
/// Invariant: holds exactly the user pointers the replay's slot table holds, so a block freed is forgotten.
/// </summary>
public sealed class LiveBlockAges
{
    private readonly Dictionary<ulong, long> _allocatedBy = [];

    /// <summary>The prepared op replayed last (-1 before the first).</summary>
    public long LastOp { get; set; } = -1;

    /// <summary>Blocks known.</summary>
    public int Count => _allocatedBy.Count;

    /// <summary>
    /// Called after each op on a slot: <paramref name="before"/> and <paramref name="after"/> are the slot's pointer
    /// before and after op <paramref name="op"/>.
    /// </summary>
    public void Observe(ulong before, ulong after, long op)
    {
        if (before == after)
        {
            return;
        }

        if (before != 0)
        {
            _allocatedBy.Remove(before);
        }

        if (after != 0)
        {
            _allocatedBy[after] = op;
        }
    }

    /// <summary>The op that allocated the live block at user pointer <paramref name="pointer"/>, or -1 when the replay did
    /// not allocate it from the trace (the model's preamble, its own tcache block).</summary>
    public long AllocatedBy(ulong pointer) => _allocatedBy.TryGetValue(pointer, out long op) ? op : -1;
}
