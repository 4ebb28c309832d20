using System.Runtime.CompilerServices;
using PtReplay.Allocator.Memory;

namespace PtReplay.Allocator.Chunks;

/// <summary>
/// Chunk layout (x86_64, SIZE_SZ = 8, MALLOC_ALIGNMENT = 16), all fields in simulated memory:
/// <code>
///  chunk -> +0   prev_size   size of the previous chunk, valid only when that chunk is free (or the
///                            mmap offset for mmapped chunks); otherwise the previous chunk's user data
///           +8   size | A | M | P   A = NON_MAIN_ARENA (4), M = IS_MMAPPED (2), P = PREV_INUSE (1)
///  mem   -> +16  fd          free chunks: next in bin (fastbin/tcache links are "safe-linked":
///                            stored as (address_of_field >> 12) XOR target)
///           +24  bk          free chunks: previous in bin; tcache: the tcache key (double-free mark)
///           +32  fd_nextsize large bins only: next smaller size
///           +40  bk_nextsize large bins only: next larger size
///  next  -> +size            the next chunk; its P bit says whether this chunk is in use, and a free
///                            chunk's size is repeated in next's prev_size (the "foot")
/// </code>
/// Invariants: chunk addresses and sizes are multiples of 16; every size is at least MINSIZE (32);
/// chunks in tcache and fastbins keep their "in use" P bit set in the next chunk.
/// </summary>
internal static class Chunk
{
    public const ulong SizeSz = 8;
    public const ulong Alignment = 16;
    public const ulong AlignMask = 15;
    public const ulong HeaderSize = 16;
    public const ulong MinSize = 32;
    public const ulong PrevInuse = 1;
    public const ulong IsMmapped = 2;
    public const ulong NonMainArena = 4;
    public const ulong SizeBits = 7;
    /// <summary>Largest request glibc accepts (PTRDIFF_MAX).</summary>
    public const ulong MaxRequest = long.MaxValue;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ToMem(ulong chunk) => chunk + HeaderSize;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong FromMem(ulong mem) => mem - HeaderSize;

    /// <summary>request2size: the chunk size serving a request of <paramref name="request"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong RequestToSize(ulong request) =>
        request + SizeSz + AlignMask < MinSize ? MinSize : (request + SizeSz + AlignMask) & ~AlignMask;

    /// <summary>checked_request2size: 0 when the request exceeds PTRDIFF_MAX.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong CheckedRequestToSize(ulong request) => request > MaxRequest ? 0 : RequestToSize(request);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Misaligned(ulong p) => (p & AlignMask) != 0;

    // ---- field accessors -------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong PrevSize(this SimulatedMemory m, ulong p) => m.Read(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetPrevSize(this SimulatedMemory m, ulong p, ulong v) => m.Write(p, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong SizeNoMask(this SimulatedMemory m, ulong p) => m.Read(p + 8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ChunkSize(this SimulatedMemory m, ulong p) => m.Read(p + 8) & ~SizeBits;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetHead(this SimulatedMemory m, ulong p, ulong v) => m.Write(p + 8, v);

    /// <summary>set_head_size: new size, keeping the three flag bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetHeadSize(this SimulatedMemory m, ulong p, ulong s) => m.Write(p + 8, (m.Read(p + 8) & SizeBits) | s);

    /// <summary>set_foot: the size repeated in the next chunk's prev_size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetFoot(this SimulatedMemory m, ulong p, ulong s) => m.Write(p + s, s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool PrevInUse(this SimulatedMemory m, ulong p) => (m.Read(p + 8) & PrevInuse) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsMmappedChunk(this SimulatedMemory m, ulong p) => (m.Read(p + 8) & IsMmapped) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsMainArenaChunk(this SimulatedMemory m, ulong p) => (m.Read(p + 8) & NonMainArena) == 0;

    /// <summary>inuse: the P bit of the next chunk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool InUse(this SimulatedMemory m, ulong p) => (m.Read(p + (m.Read(p + 8) & ~SizeBits) + 8) & PrevInuse) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool InUseBitAtOffset(this SimulatedMemory m, ulong p, ulong s) => (m.Read(p + s + 8) & PrevInuse) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetInUseBitAtOffset(this SimulatedMemory m, ulong p, ulong s) => m.Write(p + s + 8, m.Read(p + s + 8) | PrevInuse);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ClearInUseBitAtOffset(this SimulatedMemory m, ulong p, ulong s) => m.Write(p + s + 8, m.Read(p + s + 8) & ~PrevInuse);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetNonMainArena(this SimulatedMemory m, ulong p) => m.Write(p + 8, m.Read(p + 8) | NonMainArena);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Fd(this SimulatedMemory m, ulong p) => m.Read(p + 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetFd(this SimulatedMemory m, ulong p, ulong v) => m.Write(p + 16, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Bk(this SimulatedMemory m, ulong p) => m.Read(p + 24);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetBk(this SimulatedMemory m, ulong p, ulong v) => m.Write(p + 24, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong FdNextSize(this SimulatedMemory m, ulong p) => m.Read(p + 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetFdNextSize(this SimulatedMemory m, ulong p, ulong v) => m.Write(p + 32, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong BkNextSize(this SimulatedMemory m, ulong p) => m.Read(p + 40);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetBkNextSize(this SimulatedMemory m, ulong p, ulong v) => m.Write(p + 40, v);

    /// <summary>PROTECT_PTR: safe-linking of a singly linked pointer stored at <paramref name="position"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Protect(ulong position, ulong target) => (position >> 12) ^ target;

    /// <summary>Reads a safe-linked pointer stored at <paramref name="position"/> (REVEAL_PTR).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadProtected(this SimulatedMemory m, ulong position) => (position >> 12) ^ m.Read(position);
}
