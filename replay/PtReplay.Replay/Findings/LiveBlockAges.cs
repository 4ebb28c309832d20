namespace PtReplay.Replay.Findings;

/// <summary>
/// For every block live in a model replay, the prepared op that allocated it (a realloc that moves a block counts as
/// its allocation; one that stays in place keeps the block's first op) and the op that last set its requested size (its
/// allocation, or the last realloc that returned it, in place or not), and how many forks the replay had passed when it
/// was allocated: in a forked child's replay (its ancestors' events first, each stage closed by a fork op) that number
/// says whose trace the allocating op's event index belongs to.
/// Invariant: holds exactly the user pointers the replay's slot table holds, so a block freed is forgotten.
/// </summary>
public sealed class LiveBlockAges
{
    private readonly Dictionary<ulong, (long Born, long Sized, int Forks)> _blocks = [];

    /// <summary>The prepared op replayed last (-1 before the first).</summary>
    public long LastOp { get; set; } = -1;

    /// <summary>Fork ops replayed so far (the replay counts them as it passes them).</summary>
    public int Forks { get; set; }

    /// <summary>Blocks known.</summary>
    public int Count => _blocks.Count;

    /// <summary>
    /// Called after each op on a slot: <paramref name="before"/> and <paramref name="after"/> are the slot's pointer
    /// before and after op <paramref name="op"/>, which returned <paramref name="result"/> (0 for a free or a failure).
    /// </summary>
    public void Observe(ulong before, ulong after, ulong result, long op)
    {
        if (before == after)
        {
            if (after != 0 && result == after && _blocks.TryGetValue(after, out var kept))
            {
                _blocks[after] = (kept.Born, op, kept.Forks); // a realloc in place: same block, new size
            }

            return;
        }

        if (before != 0)
        {
            _blocks.Remove(before);
        }

        if (after != 0)
        {
            _blocks[after] = (op, op, Forks);
        }
    }

    /// <summary>The op that allocated the live block at user pointer <paramref name="pointer"/>, or -1 when the replay did
    /// not allocate it from the trace (the model's preamble, its own tcache block).</summary>
    public long AllocatedBy(ulong pointer) => _blocks.TryGetValue(pointer, out var b) ? b.Born : -1;

    /// <summary>
    /// Fork ops replayed before the op that allocated the live block at <paramref name="pointer"/> (-1 when unknown): in a
    /// forked child's replay, k below the number of inherited stages means stage k's trace allocated it.
    /// </summary>
    public int ForksBefore(ulong pointer) => _blocks.TryGetValue(pointer, out var b) ? b.Forks : -1;

    /// <summary>The op that last set the requested size of the live block at <paramref name="pointer"/>, or -1.</summary>
    public long SizedBy(ulong pointer) => _blocks.TryGetValue(pointer, out var b) ? b.Sized : -1;
}
