using System.Runtime.InteropServices;

namespace PtReplay.Replay.Preparation;

/// <summary>
/// Disk use of a sparse scratch file (a streamed prepared file): the bytes it has allocated (lseek SEEK_DATA/SEEK_HOLE:
/// the data ranges, page cache included, whatever the file's length) and punching out a range that was read
/// (fallocate PUNCH_HOLE | KEEP_SIZE: its blocks and page-cache pages go, the length stays, it reads as zeros).
/// Linux only; elsewhere the length counts as allocated and punching does nothing.
/// </summary>
public static partial class ScratchDisk
{
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int PunchHoleKeepSize = 0x02 | 0x01;

    /// <summary>Bytes of <paramref name="path"/> in data ranges (allocated on disk or in the page cache).</summary>
    public static long AllocatedBytes(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return AllocatedBytes(handle);
    }

    /// <summary>Bytes of the open file in data ranges.</summary>
    public static long AllocatedBytes(SafeHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (!OperatingSystem.IsLinux())
        {
            return RandomAccess.GetLength((Microsoft.Win32.SafeHandles.SafeFileHandle)file);
        }

        int fd = (int)file.DangerousGetHandle();
        long total = 0;
        long at = 0;
        while (true)
        {
            long data = Lseek(fd, at, SeekData);
            if (data < 0)
            {
                return total;   // ENXIO: no data after `at`
            }

            long hole = Lseek(fd, data, SeekHole);
            if (hole < 0)
            {
                return total;
            }

            total += hole - data;
            at = hole;
        }
    }

    /// <summary>Punches out the whole pages of [<paramref name="offset"/>, +<paramref name="length"/>) (page-aligned inward); best effort.</summary>
    public static void Punch(SafeHandle file, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(file);
        const long Page = 4096;
        long first = (offset + Page - 1) & ~(Page - 1);
        long end = (offset + length) & ~(Page - 1);
        if (OperatingSystem.IsLinux() && end > first)
        {
            _ = Fallocate((int)file.DangerousGetHandle(), PunchHoleKeepSize, first, end - first);
        }
    }

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(int fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(int fd, int mode, long offset, long length);
}
