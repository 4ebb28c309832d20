using System.Runtime.InteropServices;

namespace PtReplay.Replay.Preparation;

/// <summary>
/// Keeps a large memory-mapped file (a prepared trace) from piling up in the process's resident memory: the pages
/// already read or written are given back with madvise(MADV_DONTNEED). For a file mapping that loses nothing: a page
/// written through a shared mapping stays in the page cache (dirty, written back by the kernel), and any page is read
/// again from the file if it is touched later. So preparing or replaying a trace of any length needs resident memory
/// for a window of it only, not for the whole file.
/// </summary>
internal static unsafe partial class ResidentPages
{
    /// <summary>Bytes read or written through a mapping between two releases.</summary>
    public const long Window = 64L << 20;

    private const int MadvDontNeed = 4;

    /// <summary>Gives back the resident pages of [<paramref name="start"/>, +<paramref name="length"/>) (page-aligned inward); best effort.</summary>
    public static void Release(byte* start, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
        {
            return;
        }

        long page = Environment.SystemPageSize;
        long first = ((long)start + page - 1) & ~(page - 1);
        long end = ((long)start + length) & ~(page - 1);
        if (end > first)
        {
            _ = Madvise((void*)first, (nuint)(end - first), MadvDontNeed);
        }
    }

    /// <summary>
    /// Marks a mapping of a streamed prepared file for random access (madvise MADV_RANDOM): no read-ahead, so its page
    /// cache is made of single pages, each of which a punch (<see cref="ScratchDisk.Punch"/>) frees whole. A read-ahead
    /// folio (up to 2 MiB) that a punch covers only in part stays, and its write-back would take the punched blocks again.
    /// </summary>
    public static void AdviseRandom(byte* start, long length)
    {
        if (OperatingSystem.IsLinux() && length > 0)
        {
            long page = Environment.SystemPageSize;
            long first = (long)start & ~(page - 1);
            _ = Madvise((void*)first, (nuint)((long)start + length - first), MadvRandom);
        }
    }

    private const int MadvRandom = 1;

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
