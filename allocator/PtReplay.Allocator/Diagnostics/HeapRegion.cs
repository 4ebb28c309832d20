namespace PtReplay.Allocator.Diagnostics;

/// <summary>
/// A contiguous piece of the model's heap: the main arena's break heap, one heap of a thread arena, or one mmapped chunk.
/// Invariant (checked by <see cref="HeapWalker"/>): the chunks tile [<see cref="Start"/>, <see cref="End"/>) in address
/// order, so their sizes add up exactly to <see cref="End"/> - <see cref="Start"/>.
/// </summary>
public sealed class HeapRegion
{
    /// <summary>"brk" (main arena), "heap" (a thread arena's heap) or "mmap" (an mmapped chunk).</summary>
    public required string Kind { get; init; }

    /// <summary>The arena's creation index (0: main arena); -1 for an mmapped chunk, which belongs to no arena.</summary>
    public required int Arena { get; init; }

    /// <summary>Address of the first chunk.</summary>
    public required ulong Start { get; init; }

    /// <summary>End of the last chunk (exclusive).</summary>
    public required ulong End { get; init; }

    /// <summary>The chunks in address order.</summary>
    public required IReadOnlyList<HeapChunk> Chunks { get; init; }

    /// <summary>End - Start.</summary>
    public ulong Extent => End - Start;
}
