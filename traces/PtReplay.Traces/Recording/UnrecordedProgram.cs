using System.Buffers.Binary;
using System.Globalization;

namespace PtReplay.Traces.Recording;

/// <summary>
/// A program that ran during a recording without the recorder in it, so none of its calls are in the recording and it
/// has no trace: the recorder notes each one before the exec or posix_spawn that starts it (a line in
/// <c>OUT.unrecorded</c>: pid, reason, path, command line, tab-separated; traces/recorder/unrecorded.c), and
/// <see cref="Recorder"/> judges the started program itself the same way when it left no trace.
/// </summary>
/// <param name="Pid">The process that exec'd it (the same pid runs it), or posix_spawn's child.</param>
/// <param name="Reason">One of <see cref="Static"/>, <see cref="Setuid"/>, <see cref="Setgid"/>, <see cref="NoPreload"/>.</param>
/// <param name="Path">The program file.</param>
/// <param name="CommandLine">Its arguments, joined by spaces.</param>
public sealed record UnrecordedProgram(int Pid, string Reason, string Path, string CommandLine)
{
    /// <summary>An ELF executable without a program interpreter: no dynamic loader runs, so nothing reads LD_PRELOAD.</summary>
    public const string Static = "static";

    /// <summary>Set-user-ID to a user other than the caller: the kernel runs it in secure mode, where the loader ignores an LD_PRELOAD path.</summary>
    public const string Setuid = "setuid";

    /// <summary>Set-group-ID to a group other than the caller's: secure mode, as <see cref="Setuid"/>.</summary>
    public const string Setgid = "setgid";

    /// <summary>The environment it was given has no LD_PRELOAD naming the recorder (env -i, sudo, a program that cleans its children's environment).</summary>
    public const string NoPreload = "no-preload";

    /// <summary>
    /// The program (or a library loaded before the recorder) defines malloc itself, and that definition comes first in the
    /// dynamic linker's lookup order (rustc links jemalloc into its executable): the program is recorded, but only the
    /// calls that allocator forwards to glibc are in its trace. <see cref="Path"/> is the module that defines malloc.
    /// </summary>
    public const string OwnMalloc = "own-malloc";

    /// <summary>True when the program ran without the recorder at all (no trace); false for <see cref="OwnMalloc"/>, which has a trace missing most calls.</summary>
    public bool Unrecorded => Reason != OwnMalloc;

    /// <summary>The file the recorder writes the notes of a recording to <paramref name="tracePath"/> into.</summary>
    public static string NotesPath(string tracePath) => tracePath + ".unrecorded";

    /// <summary>Why it was not recorded, in words.</summary>
    public string Explanation => Reason switch
    {
        Static => "statically linked (no dynamic loader runs, so LD_PRELOAD cannot put the recorder in front of its malloc)",
        Setuid => "set-user-ID to another user (the kernel runs it in secure mode, where the dynamic loader ignores LD_PRELOAD)",
        Setgid => "set-group-ID to another group (the kernel runs it in secure mode, where the dynamic loader ignores LD_PRELOAD)",
        NoPreload => "started without the recorder's LD_PRELOAD (the program that started it cleared its environment, e.g. env -i or sudo)",
        OwnMalloc => "defines malloc itself, ahead of the recorder's in the dynamic linker's lookup order (an allocator linked into it): its trace holds only the calls that reach glibc's malloc",
        _ => Reason,
    };

    /// <summary>The notes in <paramref name="notesPath"/>, in the order they were written; none when the file is missing. Malformed lines are skipped.</summary>
    public static IReadOnlyList<UnrecordedProgram> ReadNotes(string notesPath)
    {
        if (!File.Exists(notesPath))
        {
            return [];
        }

        var notes = new List<UnrecordedProgram>();
        foreach (string line in File.ReadAllLines(notesPath))
        {
            string[] f = line.Split('\t');
            if (f.Length >= 4 && int.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                notes.Add(new UnrecordedProgram(pid, f[1], f[2], f[3]));
            }
        }

        return notes;
    }

    /// <summary>
    /// The started program <paramref name="command"/>[0] (process <paramref name="pid"/>, started with
    /// <paramref name="environment"/>) when it would run without the recorder: statically linked or set-id; null when nothing
    /// says so (or the file cannot be read). Searches PATH as exec does when the name has no slash; a "#!" script is judged
    /// by its interpreter.
    /// </summary>
    public static UnrecordedProgram? Judge(int pid, IReadOnlyList<string> command, IReadOnlyDictionary<string, string?> environment,
        string? workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(environment);
        string? path = Resolve(command[0], environment.GetValueOrDefault("PATH") ?? "/bin:/usr/bin", workingDirectory);
        return path is not null && JudgeFile(path, 0) is { } reason ? new UnrecordedProgram(pid, reason, path, string.Join(' ', command)) : null;
    }

    private static string? Resolve(string file, string searchPath, string? workingDirectory)
    {
        string baseDir = workingDirectory ?? Directory.GetCurrentDirectory();
        if (file.Contains('/', StringComparison.Ordinal))
        {
            return System.IO.Path.GetFullPath(file, baseDir);
        }

        foreach (string dir in searchPath.Split(':'))
        {
            string candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir.Length == 0 ? "." : dir, file), baseDir);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string? JudgeFile(string path, int depth)
    {
        try
        {
            if (!OperatingSystem.IsLinux() || depth > 2 || !File.Exists(path))
            {
                return null;
            }

            UnixFileMode mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.SetUser | UnixFileMode.SetGroup)) != 0 && !UnixIds.OnNoSuidMount(path) && UnixIds.Owner(path) is var (user, group))
            {
                if ((mode & UnixFileMode.SetUser) != 0 && user != UnixIds.UserId)
                {
                    return Setuid;
                }

                if ((mode & UnixFileMode.SetGroup) != 0 && group != UnixIds.GroupId)
                {
                    return Setgid;
                }
            }

            using FileStream s = File.OpenRead(path);
            var head = new byte[64];
            int n = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            if (n >= 2 && head[0] == '#' && head[1] == '!')
            {
                s.Position = 2;
                var line = new byte[256];
                int m = s.ReadAtLeast(line, line.Length, throwOnEndOfStream: false);
                string interpreter = System.Text.Encoding.UTF8.GetString(line, 0, m).Split('\n')[0].Trim().Split(' ', '\t')[0];
                return interpreter.Length == 0 ? null : JudgeFile(interpreter, depth + 1);
            }

            // An ELF64 executable (ET_EXEC) without PT_INTERP: statically linked.
            if (n < 64 || head[0] != 0x7f || head[1] != 'E' || head[2] != 'L' || head[3] != 'F' || head[4] != 2 ||
                BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(16)) != 2)
            {
                return null;
            }

            ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(32));
            int phentsize = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(54));
            int phnum = BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(56));
            if (phentsize < 4 || phnum == 0 || phnum > 256)
            {
                return null;
            }

            var ph = new byte[phentsize];
            for (int i = 0; i < phnum; i++)
            {
                s.Position = (long)phoff + ((long)i * phentsize);
                if (s.ReadAtLeast(ph, ph.Length, throwOnEndOfStream: false) != ph.Length)
                {
                    return null;
                }

                if (BinaryPrimitives.ReadUInt32LittleEndian(ph) == 3)
                {
                    return null; // PT_INTERP: the dynamic loader runs and loads LD_PRELOAD
                }
            }

            return Static;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
