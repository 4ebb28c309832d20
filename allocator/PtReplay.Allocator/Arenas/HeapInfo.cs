namespace PtReplay.Allocator.Arenas;

/// <summary>
/// A heap of a non-main arena (heap_info): a 64 MiB-aligned, 64 MiB reservation of which the first
/// <see cref="Size"/> bytes are in use (read/write up to <see cref="MprotectSize"/>).
/// <code>
/// base +0x00 ar_ptr, +0x08 prev, +0x10 size, +0x18 mprotect_size, +0x20 pagesize, +0x28 pad
///      +0x30 malloc_state (first heap of an arena only), then chunks
/// </code>
/// Invariants: base is a multiple of HEAP_MAX_SIZE; a chunk's heap is (chunk &amp; ~(HEAP_MAX_SIZE-1));
/// Size is page-aligned and &lt;= MprotectSize &lt;= HEAP_MAX_SIZE; heaps of an arena form a list via Prev.
/// </summary>
internal sealed class HeapInfo
{
    public const ulong MaxSize = 64UL * 1024 * 1024;
    public const ulong MinSize = 32UL * 1024;
    public const ulong HeaderSize = 0x30;

    public ulong Base;
    public ulong Size;
    public ulong MprotectSize;
    public HeapInfo? Prev;
    public Arena Arena = null!;
    /// <summary>0 for the arena's first heap, then 1, 2, ...</summary>
    public int Index;
}
