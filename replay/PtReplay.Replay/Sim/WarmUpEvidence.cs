using PtReplay.Allocator;

namespace PtReplay.Replay.Sim;

/// <summary>
/// Model states a warm-up reached, read from its scratch models' footprints: proof that <see cref="WarmUpScript"/> got
/// to the paths behind them (break growth and trim, thread arenas and their heaps growing and shrinking, mmapped chunks).
/// Invariant: peaks only grow; the "shrank" flags only turn on.
/// </summary>
internal sealed class WarmUpEvidence
{
    private ulong _lastMain, _lastArena;

    /// <summary>Largest program-break extent seen.</summary>
    public ulong PeakMainHeapBytes { get; private set; }

    /// <summary>Whether the program break ever moved down (a trim).</summary>
    public bool MainHeapShrank { get; private set; }

    /// <summary>Largest total of arena heaps seen.</summary>
    public ulong PeakArenaHeapBytes { get; private set; }

    /// <summary>Whether the arena heaps' total ever shrank (shrink_heap).</summary>
    public bool ArenaHeapShrank { get; private set; }

    /// <summary>Largest total of mmapped chunks seen.</summary>
    public ulong PeakMmappedBytes { get; private set; }

    /// <summary>Arenas of the last scratch model at the end of its round, main arena included.</summary>
    public int Arenas { get; private set; }

    /// <summary>Takes in the footprint after one op.</summary>
    public void Observe(MemoryFootprint fp)
    {
        MainHeapShrank |= fp.MainHeapBytes < _lastMain;
        ArenaHeapShrank |= fp.ArenaHeapBytes < _lastArena;
        _lastMain = fp.MainHeapBytes;
        _lastArena = fp.ArenaHeapBytes;
        PeakMainHeapBytes = Math.Max(PeakMainHeapBytes, fp.MainHeapBytes);
        PeakArenaHeapBytes = Math.Max(PeakArenaHeapBytes, fp.ArenaHeapBytes);
        PeakMmappedBytes = Math.Max(PeakMmappedBytes, fp.MmappedBytes);
    }

    /// <summary>Takes in a scratch model at the end of its round.</summary>
    public void Finish(Ptmalloc model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Arenas = model.ArenaCount;
        _lastMain = _lastArena = 0;
    }
}
