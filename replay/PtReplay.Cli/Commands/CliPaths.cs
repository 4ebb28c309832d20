using System.Runtime.InteropServices;

namespace PtReplay.Cli.Commands;

/// <summary>
/// Checks of the files a verb reads and writes, made before any work starts, so each problem is reported once, the
/// same way by every verb, and blamed on the right file: an input problem exits 3, an output problem exits 4.
/// </summary>
public static partial class CliPaths
{
    /// <summary>
    /// An input file: it exists, is not a directory and can be opened for reading. Returns its full path;
    /// throws <see cref="CliException"/> (exit code 3) naming the file and the reason.
    /// </summary>
    public static string Input(string path, string what = "trace")
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw CliException.BadInput($"{path}: is a directory, not a {what} file");
        }

        if (!File.Exists(full))
        {
            throw CliException.BadInput($"{path}: no such {what} file");
        }

        try
        {
            using var probe = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw CliException.BadInput($"{path}: cannot read the {what} file: {Reason(e, full)}", e);
        }

        return full;
    }

    /// <summary>
    /// An output file: its folder exists or can be created, it is not a directory, and it can be created or
    /// overwritten. Creates nothing but the folder (a probe file is removed). Throws <see cref="CliException"/>
    /// (exit code 4) naming the file and the reason.
    /// </summary>
    public static string OutputFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw CliException.OutputFailed($"{path}: is a directory; give a file name to write");
        }

        try
        {
            string? folder = Path.GetDirectoryName(full);
            if (folder is not null)
            {
                Directory.CreateDirectory(folder);
            }

            bool existed = File.Exists(full);
            // A device (/dev/null, /dev/full) or pipe: traces are written beside and renamed over it, which would replace it.
            if (existed && !IsRegularFile(full))
            {
                throw CliException.OutputFailed($"{path}: is not a regular file; give a file name to write");
            }

            using (new FileStream(full, existed ? FileMode.Open : FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite, 1))
            {
            }

            if (!existed)
            {
                File.Delete(full);
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw CliException.OutputFailed($"{path}: cannot write the output: {Reason(e, full)}", e);
        }

        return full;
    }

    /// <summary>
    /// An output folder: created if missing, and a file can be written in it. Throws <see cref="CliException"/>
    /// (exit code 4) naming the folder and the reason.
    /// </summary>
    public static string OutputDirectory(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            throw CliException.OutputFailed($"{path}: is a file; give a folder to write into");
        }

        try
        {
            Directory.CreateDirectory(full);
            string probe = Path.Combine(full, $".ptreplay-write-probe-{Environment.ProcessId}");
            using (new FileStream(probe, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose))
            {
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw CliException.OutputFailed($"{path}: cannot write the output folder: {Reason(e, full)}", e);
        }

        return full;
    }

    /// <summary>True when <paramref name="path"/> (after symbolic links) is a regular file, not a device, pipe or socket.</summary>
    public static unsafe bool IsRegularFile(string path)
    {
        // The runtime's own portable stat (the one File.Exists uses): Flags, then Mode with the S_IFMT type bits.
        byte* status = stackalloc byte[512];
        if (Stat(path, status) != 0)
        {
            return false;
        }

        int mode = *(int*)(status + 4);
        return (mode & 0xF000) == 0x8000;   // S_IFMT, S_IFREG
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* status);

    /// <summary>The reason of a file system error without the path .NET repeats in its message.</summary>
    private static string Reason(Exception e, string path) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        DirectoryNotFoundException => NotAFolder(path) is { } file ? $"{file} is a file, not a folder" : "a folder on the path does not exist",
        IOException io when CliErrors.IsOutputErrno(io.HResult) => io.HResult == 28 ? "no space left on device" : "read-only file system or quota exceeded",
        _ => TrimPath(e.Message),
    };

    /// <summary>The first ancestor of <paramref name="path"/> that exists and is not a folder (/dev/null in /dev/null/x), or null.</summary>
    private static string? NotAFolder(string path)
    {
        for (string? p = Path.GetDirectoryName(Path.GetFullPath(path)); p is not null; p = Path.GetDirectoryName(p))
        {
            if (Directory.Exists(p))
            {
                return null;
            }

            if (File.Exists(p))
            {
                return p;
            }
        }

        return null;
    }

    private static string TrimPath(string message)
    {
        int quote = message.IndexOf(" : '", StringComparison.Ordinal);
        return quote > 0 ? message[..quote] : message;
    }
}
