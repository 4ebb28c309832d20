using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace PtReplay.Traces.Recording;

/// <summary>The user and group ids a set-id check needs: the caller's real ids and a file's owner (statx, whose layout is the same on every architecture).</summary>
internal static partial class UnixIds
{
    /// <summary>The caller's real user id.</summary>
    public static uint UserId => GetUid();

    /// <summary>The caller's real group id.</summary>
    public static uint GroupId => GetGid();

    /// <summary>The owner user and group of <paramref name="path"/> (symbolic links followed), or null when it cannot be read.</summary>
    public static unsafe (uint User, uint Group)? Owner(string path)
    {
        byte* buffer = stackalloc byte[256]; // struct statx
        const uint basicStats = 0x7ff; // STATX_BASIC_STATS
        if (Statx(-100 /* AT_FDCWD */, path, 0, basicStats, buffer) != 0)
        {
            return null;
        }

        var bytes = new ReadOnlySpan<byte>(buffer, 256);
        return (BinaryPrimitives.ReadUInt32LittleEndian(bytes[20..]), BinaryPrimitives.ReadUInt32LittleEndian(bytes[24..]));
    }

    /// <summary>True when <paramref name="path"/> is on a file system mounted nosuid (set-id bits ignored).</summary>
    public static unsafe bool OnNoSuidMount(string path)
    {
        byte* buffer = stackalloc byte[128]; // struct statvfs (64-bit: f_flag at offset 72)
        const ulong noSuid = 2; // ST_NOSUID
        return Statvfs(path, buffer) == 0 && (BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(buffer + 72, 8)) & noSuid) != 0;
    }

    [LibraryImport("libc", EntryPoint = "statvfs", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statvfs(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "getuid")]
    private static partial uint GetUid();

    [LibraryImport("libc", EntryPoint = "getgid")]
    private static partial uint GetGid();

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
