namespace PtReplay.Allocator.Diagnostics;

/// <summary>One chunk of a <see cref="HeapRegion"/>: its address (chunk header, not the user pointer), size and state.</summary>
/// <param name="Address">Chunk address (the prev_size word).</param>
/// <param name="Size">Chunk size in bytes (flag bits cleared).</param>
/// <param name="State">What the chunk is.</param>
public readonly record struct HeapChunk(ulong Address, ulong Size, ChunkState State);
