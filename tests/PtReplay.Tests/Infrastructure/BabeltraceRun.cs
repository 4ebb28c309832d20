using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

using PtReplay.Traces.Import;

namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// One run of <c>babeltrace2</c> that prints CTF trace folders as text (read it from <see cref="Output"/>),
/// with its stderr collected on the side: warnings about discarded events and, when it fails, the error.
/// <para>The LTTng import tests' oracle: babeltrace2 is the reference CTF reader LTTng's own documentation
/// uses, so what it prints is what the trace holds; import-lttng itself reads the CTF with TraceEvent.</para>
/// </summary>
public sealed partial class BabeltraceRun : IDisposable
{
    /// <summary>The program's name, looked up on PATH.</summary>
    public const string ProgramName = "babeltrace2";

    /// <summary>What to install when babeltrace2 is missing (Debian/Ubuntu package name).</summary>
    public const string InstallHint = "install it with `apt-get install babeltrace2` (Debian/Ubuntu) or your distribution's babeltrace2 package";

    /// <summary>The options the importer passes: ns since the Unix epoch, no deltas, no colours.</summary>
    public static readonly IReadOnlyList<string> PrettyOptions = ["--clock-seconds", "--no-delta", "--color=never"];

    private readonly Process _process;
    private readonly Task<string> _stderr;
    private readonly string _what;
    private bool _disposed;

    private BabeltraceRun(Process process, string what)
    {
        _process = process;
        _what = what;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>babeltrace2's text, one event per line.</summary>
    public TextReader Output => _process.StandardOutput;

    /// <summary>Starts babeltrace2 on <paramref name="traceFolders"/>; throws <see cref="LttngImportException"/> when it is not installed.</summary>
    /// <param name="traceFolders">CTF trace folders (each holds a metadata file).</param>
    /// <param name="what">Names the input in error messages.</param>
    /// <param name="program">babeltrace2's path, or null to look it up on PATH.</param>
    public static BabeltraceRun Start(IReadOnlyList<string> traceFolders, string what, string? program = null)
    {
        string exe = program ?? FindOnPath(ProgramName)
            ?? throw new LttngImportException($"{ProgramName} not found on PATH: it reads the CTF trace LTTng wrote; {InstallHint}.");
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (string o in PrettyOptions)
        {
            psi.ArgumentList.Add(o);
        }

        foreach (string folder in traceFolders)
        {
            psi.ArgumentList.Add(folder);
        }

        psi.Environment["LC_ALL"] = "C";
        psi.Environment["BABELTRACE_TERM_COLOR"] = "never";
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new LttngImportException($"{exe} could not be started.");
        }
        catch (Win32Exception e)
        {
            throw new LttngImportException($"{exe} could not be started ({e.Message}); {InstallHint}.", e);
        }

        process.StandardInput.Close();
        return new BabeltraceRun(process, what);
    }

    /// <summary>
    /// Waits for babeltrace2 to end (after <see cref="Output"/> was read to its end) and returns the number of
    /// events and packets the tracer said it discarded; throws <see cref="LttngImportException"/> with
    /// babeltrace2's own explanation when it failed.
    /// </summary>
    public (long DiscardedEvents, long LostPackets) Finish()
    {
        _process.WaitForExit();
        string stderr = _stderr.Result;
        if (_process.ExitCode != 0)
        {
            throw Failure();
        }

        long discarded = 0, lost = 0;
        foreach (Match m in DiscardedPattern().Matches(stderr))
        {
            discarded += long.Parse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        }

        foreach (Match m in LostPacketsPattern().Matches(stderr))
        {
            lost += long.Parse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture);
        }

        return (discarded, lost);
    }

    /// <summary>
    /// After its output could not be parsed: babeltrace2's own error when it failed (exited non-zero within a
    /// few seconds), otherwise null, and it is ended (it would block on a full pipe nobody reads).
    /// </summary>
    public LttngImportException? FailedOnItsOwn()
    {
        if (_process.WaitForExit(3000) && _process.ExitCode != 0)
        {
            return Failure();
        }

        Dispose();
        return null;
    }

    private LttngImportException Failure() =>
        new($"{ProgramName} could not read {_what} (exit {_process.ExitCode}): {Explain(_stderr.Result)}");

    /// <summary>
    /// The most specific reason in babeltrace2's error report: the text of the last "CAUSED BY" entry (the
    /// innermost cause), joined into one line; or, without such entries, its last non-empty line.
    /// </summary>
    public static string Explain(string stderr)
    {
        ArgumentNullException.ThrowIfNull(stderr);
        string[] lines = stderr.Split('\n');
        int last = Array.FindLastIndex(lines, l => l.StartsWith("CAUSED BY ", StringComparison.Ordinal) || l.StartsWith("ERROR: ", StringComparison.Ordinal));
        if (last >= 0)
        {
            var text = new StringBuilder();
            for (int i = last + 1; i < lines.Length && lines[i].StartsWith("  ", StringComparison.Ordinal); i++)
            {
                text.Append(text.Length > 0 ? " " : "").Append(lines[i].Trim());
            }

            if (text.Length > 0)
            {
                return text.ToString();
            }
        }

        string? tail = lines.LastOrDefault(l => l.Trim().Length > 0);
        return tail?.Trim() ?? "no message";
    }

    /// <summary>Full path of <paramref name="program"/> in a PATH folder, or null.</summary>
    public static string? FindOnPath(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Ends babeltrace2 if it still runs (an error while reading its output) and releases it.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"Tracer discarded (\d+) events?")]
    private static partial Regex DiscardedPattern();

    [GeneratedRegex(@"Tracer lost (\d+) packets?")]
    private static partial Regex LostPacketsPattern();
}
