using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace PtReplay.Traces.Recording;

/// <summary>
/// Runs a program under the LD_PRELOAD recorder (libptrecord.so): sets the control variables,
/// passes stdin/stdout/stderr through (or captures them), waits, and lists the traces written.
/// <code>
///   OUT            the started program
///   OUT.&lt;pid&gt;      a forked child, or a program exec'd by a process that had no trace of its own under that pid
///   OUT.&lt;pid&gt;.&lt;n&gt;  further images under the same pid (each exec)
/// </code>
/// Each child trace's header names the trace it continues (see <see cref="ProcessTrees.TraceTree"/>). A program the
/// recorder cannot enter (statically linked, set-id, started without its LD_PRELOAD) leaves a line in OUT.unrecorded
/// instead, read into <see cref="RecordingResult.Unrecorded"/> and removed.
/// <code>
/// </code>
/// </summary>
public static partial class Recorder
{
    /// <summary>Runs the program as the options say and returns when it has exited.</summary>
    public static RecordingResult Run(RecordingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Command.Count == 0)
        {
            throw new ArgumentException("No program to run: the command is empty.", nameof(options));
        }

        string tracePath = "";
        var psi = new ProcessStartInfo(options.Command[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = options.CaptureOutput || options.StandardInput is not null,
            RedirectStandardOutput = options.CaptureOutput,
            RedirectStandardError = options.CaptureOutput,
        };
        foreach (string arg in options.Command.Skip(1))
        {
            psi.ArgumentList.Add(arg);
        }

        if (options.WorkingDirectory is not null)
        {
            psi.WorkingDirectory = options.WorkingDirectory;
        }

        if (options.Environment is not null)
        {
            psi.Environment.Clear();
            foreach (var (name, value) in options.Environment)
            {
                psi.Environment[name] = value;
            }
        }

        if (options.ExtraEnvironment is not null)
        {
            foreach (var (name, value) in options.ExtraEnvironment)
            {
                if (value is null)
                {
                    psi.Environment.Remove(name);
                }
                else
                {
                    psi.Environment[name] = value;
                }
            }
        }

        if (options.Record)
        {
            if (string.IsNullOrEmpty(options.OutputPath))
            {
                throw new ArgumentException("Recording needs an output path (-o OUT).", nameof(options));
            }

            tracePath = Path.GetFullPath(options.OutputPath);
            Directory.CreateDirectory(Path.GetDirectoryName(tracePath)!);
            DeleteOldTraces(tracePath);
            string library = options.RecorderLibrary ?? NativeArtifacts.Find(NativeArtifacts.Recorder);
            psi.Environment.TryGetValue(RecorderEnvironment.Preload, out string? existing);
            psi.Environment[RecorderEnvironment.Preload] = string.IsNullOrEmpty(existing) ? library : library + ":" + existing;
            psi.Environment[RecorderEnvironment.Out] = tracePath;
            psi.Environment[RecorderEnvironment.Role] = "root";
            psi.Environment[RecorderEnvironment.Follow] = options.FollowChildren ? "1" : "0";
            if (options.StackDepth is < 0 or > RecordingOptions.MaxStackDepth)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.StackDepth, $"stack depth must be 0..{RecordingOptions.MaxStackDepth}");
            }

            if (options.StackDepth > 0)
            {
                psi.Environment[RecorderEnvironment.Stacks] = options.StackDepth.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                psi.Environment.Remove(RecorderEnvironment.Stacks);
            }
        }

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(psi)
            ?? throw new InvalidOperationException($"Could not start '{options.Command[0]}'.");
        options.Started?.Invoke(process.Id);
        Task<byte[]> stdout = Task.FromResult(Array.Empty<byte>());
        Task<byte[]> stderr = Task.FromResult(Array.Empty<byte>());
        if (options.CaptureOutput)
        {
            stdout = ReadAllAsync(process.StandardOutput.BaseStream);
            stderr = ReadAllAsync(process.StandardError.BaseStream);
        }

        if (psi.RedirectStandardInput)
        {
            FeedStandardInput(process, options.StandardInput);
        }

        bool timedOut = false;
        if (options.Timeout is { } limit)
        {
            if (!process.WaitForExit(limit))
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
            }
        }

        process.WaitForExit();
        clock.Stop();
        List<int> stillRunning = options.Record && options.FollowChildren
            ? WaitForRecordingDescendants(tracePath, options.ChildrenGrace, options.WaitingForChildren)
            : [];
        var unrecorded = new List<UnrecordedProgram>();
        if (options.Record)
        {
            if (!File.Exists(tracePath) &&
                UnrecordedProgram.Judge(process.Id, options.Command, psi.Environment.AsReadOnly(), options.WorkingDirectory) is { } root)
            {
                unrecorded.Add(root);
            }

            string notes = UnrecordedProgram.NotesPath(tracePath);
            unrecorded.AddRange(UnrecordedProgram.ReadNotes(notes));
            File.Delete(notes);
        }

        return new RecordingResult
        {
            ExitCode = process.ExitCode,
            ProcessId = process.Id,
            TracePath = tracePath,
            ChildTraces = options.Record ? FindChildTraces(tracePath) : [],
            Unrecorded = unrecorded,
            StillRunning = stillRunning,
            WallTime = clock.Elapsed,
            StandardOutput = stdout.GetAwaiter().GetResult(),
            StandardError = stderr.GetAwaiter().GetResult(),
            TimedOut = timedOut,
        };
    }

    /// <summary>
    /// Waits, at most <paramref name="grace"/>, until no process that has a trace beside <paramref name="tracePath"/> is
    /// still running (a background job or daemon the started program left behind goes on recording after it exits;
    /// new traces appearing meanwhile count too); returns the pids still running then. Descendants that have not
    /// written a trace yet are not seen.
    /// </summary>
    private static List<int> WaitForRecordingDescendants(string tracePath, TimeSpan grace, Action<IReadOnlyList<int>>? waiting)
    {
        var clock = Stopwatch.StartNew();
        bool announced = false;
        while (true)
        {
            List<int> running = FindChildTraces(tracePath).Select(c => ChildPid(c, tracePath)).Distinct().Where(IsRunning).Order().ToList();
            if (running.Count == 0 || clock.Elapsed >= grace)
            {
                return running;
            }

            if (!announced)
            {
                waiting?.Invoke(running);
                announced = true;
            }

            Thread.Sleep(50);
        }
    }

    /// <summary>True while process <paramref name="pid"/> exists and is not a zombie.</summary>
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/stat"));
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The traces written beside <paramref name="tracePath"/> by children: "NAME.&lt;pid&gt;[.&lt;n&gt;]", sorted.</summary>
    public static IReadOnlyList<string> FindChildTraces(string tracePath)
    {
        string full = Path.GetFullPath(tracePath);
        string dir = Path.GetDirectoryName(full)!;
        string name = Path.GetFileName(full);
        if (!Directory.Exists(dir))
        {
            return [];
        }

        return Directory.EnumerateFiles(dir, name + ".*")
            .Where(f => ChildSuffix().IsMatch(Path.GetFileName(f).AsSpan(name.Length)))
            .OrderBy(f => ChildOrderKey(Path.GetFileName(f)[name.Length..]))
            .ToList();
    }

    /// <summary>The pid in a child trace's name ("OUT.1234" or "OUT.1234.1").</summary>
    public static int ChildPid(string childTracePath, string tracePath)
    {
        string suffix = Path.GetFileName(childTracePath)[Path.GetFileName(tracePath).Length..];
        string[] parts = suffix.TrimStart('.').Split('.');
        return int.Parse(parts[0], CultureInfo.InvariantCulture);
    }

    private static (long Pid, long Image) ChildOrderKey(string suffix)
    {
        string[] parts = suffix.TrimStart('.').Split('.');
        long pid = long.Parse(parts[0], CultureInfo.InvariantCulture);
        long image = parts.Length > 1 ? long.Parse(parts[1], CultureInfo.InvariantCulture) : 0;
        return (pid, image);
    }

    /// <summary>Removes a previous run's OUT and OUT.&lt;pid&gt;[.&lt;n&gt;] files (and their unfinished packed copies), so names do not collide with stale ones.</summary>
    private static void DeleteOldTraces(string tracePath)
    {
        if (File.Exists(tracePath))
        {
            File.Delete(tracePath);
        }

        foreach (string old in FindChildTraces(tracePath))
        {
            File.Delete(old);
        }

        File.Delete(UnrecordedProgram.NotesPath(tracePath));

        // Packed traces a previous `record` was writing when it was killed ("OUT[.<pid>[.<n>]].packing").
        string dir = Path.GetDirectoryName(tracePath)!;
        string name = Path.GetFileName(tracePath);
        if (Directory.Exists(dir))
        {
            foreach (string temp in Directory.EnumerateFiles(dir, name + "*.packing"))
            {
                string middle = Path.GetFileName(temp)[name.Length..^".packing".Length];
                if (middle.Length == 0 || ChildSuffix().IsMatch(middle))
                {
                    File.Delete(temp);
                }
            }
        }
    }

    private static void FeedStandardInput(Process process, ReadOnlyMemory<byte>? input)
    {
        // The pipe is taken here, before the program can exit and its Process be disposed; the copy runs beside the wait.
        Stream stdin = process.StandardInput.BaseStream;
        _ = Task.Run(() =>
        {
            try
            {
                if (input is { } bytes)
                {
                    stdin.Write(bytes.Span);
                }

                stdin.Close();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // The program exited (or closed stdin) before reading all of it, as with a pipe; or it is over and the
                // pipe already closed with it.
            }
        });
    }

    private static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer).ConfigureAwait(false);
        return buffer.ToArray();
    }

    [GeneratedRegex(@"^\.\d+(\.\d+)?$")]
    private static partial Regex ChildSuffix();
}
