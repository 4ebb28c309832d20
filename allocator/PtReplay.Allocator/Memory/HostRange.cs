using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PtReplay.Allocator.Memory;

/// <summary>
/// One contiguous block of host memory, an anonymous private mapping that grows in place or moves (mremap), so that a
/// simulated address inside the range it stands for is host memory at <see cref="Base"/> + offset, with no table lookup.
/// Invariants: <see cref="Base"/> is null exactly when <see cref="Bytes"/> is 0; <see cref="Bytes"/> is a multiple of
/// 4 KiB; the kernel hands out new pages as zeros and only pages written are backed by host memory; the mapping lives as
/// long as this object (unmapped by its finalizer, so the owner keeps it reachable while it uses <see cref="Base"/>).
/// <see cref="Base"/> changes when the block grows: callers read it again after <see cref="Grow"/>.
/// </summary>
internal sealed unsafe partial class HostRange
{
    private const int ProtReadWrite = 0x1 | 0x2;
    private const int MapPrivateAnonymousNoReserve = 0x02 | 0x20 | 0x4000;
    private const int MremapMayMove = 1;
    private static readonly nint MapFailed = -1;

    /// <summary>First byte of the block (null before the first <see cref="Grow"/>).</summary>
    public byte* Base { get; private set; }

    /// <summary>Size of the block in bytes.</summary>
    public ulong Bytes { get; private set; }

    /// <summary>Unmaps the block.</summary>
    ~HostRange()
    {
        if (Base != null)
            _ = Munmap((nint)Base, (nuint)Bytes);
    }

    /// <summary>Grows the block to <paramref name="bytes"/> (a multiple of 4 KiB, larger than <see cref="Bytes"/>), keeping its
    /// contents; the new part reads as zeros. Throws <see cref="InsufficientMemoryException"/> when the host refuses.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Grow(ulong bytes)
    {
        nint block = Base == null
            ? Mmap(0, (nuint)bytes, ProtReadWrite, MapPrivateAnonymousNoReserve, -1, 0)
            : Mremap((nint)Base, (nuint)Bytes, (nuint)bytes, MremapMayMove);
        if (block == MapFailed)
            throw new InsufficientMemoryException($"the host refused {bytes} bytes of address space for the simulated break area (errno {Marshal.GetLastPInvokeError()})");
        Base = (byte*)block;
        Bytes = bytes;
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "mremap", SetLastError = true)]
    private static partial nint Mremap(nint oldAddress, nuint oldLength, nuint newLength, int flags);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(nint address, nuint length);
}
