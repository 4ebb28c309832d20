using System.Runtime.CompilerServices;
using PtReplay.Allocator.Bins;

namespace PtReplay.Allocator.Arenas;

/// <summary>
/// An arena (malloc_state). The struct occupies 0x898 bytes of simulated memory at <see cref="StateAddress"/>
/// (main arena: a fixed address standing for libc's .data; other arenas: heap base + 0x30); the 127 bin
/// headers live there in-band, so bin lists are real doubly linked lists through simulated memory.
/// <code>
/// +0x00 mutex, flags   +0x08 have_fastchunks   +0x10 fastbinsY[10]   +0x60 top   +0x68 last_remainder
/// +0x70 bins[254] (fd/bk pairs)   +0x860 binmap[4]   +0x870 next, next_free, attached_threads, system_mem, max_system_mem
/// </code>
/// bin_at(i) is the fake chunk whose fd/bk fields overlay bins[2i-2], bins[2i-1]; bin_at(1) (unsorted)
/// doubles as the "initial top" whose size reads 0 (it overlays last_remainder, which the model keeps
/// in a field, so that word stays 0).
/// Rules of the bins: unsorted is a FIFO queue (insert at fd, take from bk); small bins hold one size each,
/// FIFO; large bins are sorted by size, largest at fd, with a skip list (fd_nextsize/bk_nextsize) over the
/// first chunk of each size; the binmap bit of a bin may be set while the bin is empty (cleared lazily).
/// Fastbin heads, top, last_remainder and the binmap are mirrored in fields.
/// </summary>
internal sealed class Arena
{
    public const ulong StateSize = 0x898;
    private const ulong FirstBinOffset = 0x60;

    public readonly ulong StateAddress;
    public readonly bool IsMain;
    /// <summary>Creation order: 0 = main arena, then 1, 2, ...</summary>
    public readonly int CreationIndex;
    public readonly ulong[] FastbinsY = new ulong[BinIndex.NFastBins];
    public readonly uint[] Binmap = new uint[BinIndex.BinmapWords];
    public ulong Top;
    public ulong LastRemainder;
    public bool HaveFastchunks;
    /// <summary>MORECORE space is contiguous (main arena until an mmap fallback).</summary>
    public bool Contiguous;
    public ulong SystemMem;
    public ulong MaxSystemMem;
    public Arena? Next;
    public Arena? NextFree;
    public int AttachedThreads;
    /// <summary>Newest heap (non-main arenas).</summary>
    public HeapInfo? LastHeap;
    public int HeapCount;

    public Arena(ulong stateAddress, bool isMain, int creationIndex)
    {
        StateAddress = stateAddress;
        IsMain = isMain;
        CreationIndex = creationIndex;
        Contiguous = isMain;
    }

    /// <summary>bin_at(i): address of the fake chunk heading bin <paramref name="i"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ulong BinAt(int i) => StateAddress + FirstBinOffset + ((ulong)(i - 1) << 4);

    /// <summary>The unsorted bin (bin 1), also the initial top.</summary>
    public ulong Unsorted => StateAddress + FirstBinOffset;

    /// <summary>NON_MAIN_ARENA flag for chunks of this arena.</summary>
    public ulong ArenaFlag => IsMain ? 0 : Chunks.Chunk.NonMainArena;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MarkBin(int i) => Binmap[i >> 5] |= 1u << (i & 31);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void UnmarkBin(int i) => Binmap[i >> 5] &= ~(1u << (i & 31));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool BinMarked(int i) => (Binmap[i >> 5] & (1u << (i & 31))) != 0;
}
