using System.Diagnostics;

namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// Records real programs with LTTng-UST's libc wrapper, the way a user would (see `ptreplay import-lttng
/// --help`): a user-space session daemon (started here when none runs, stopped again at the end), one
/// session per recording with a unique name and an output folder under a temp folder, always destroyed.
/// <para>Needs lttng-tools, liblttng-ust1 and babeltrace2 (CI installs them in .ci/run). A missing piece
/// fails every test that uses this fixture with a message saying what to install: these tests never skip.
/// The session daemon runs in user space only (--no-kernel): no kernel modules, so it works in containers.</para>
/// </summary>
public sealed class LttngTracing : IDisposable
{
    /// <summary>What CI installs for these tests.</summary>
    public const string AptPackages = "lttng-tools liblttng-ust1 babeltrace2";

    private static readonly string[] LibraryFolders =
        ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"];

    private static readonly string[] Programs = ["lttng", "lttng-sessiond", "babeltrace2"];

    private readonly TempDir _home = new("ptrec-lttng-");
    private readonly int _startedDaemon;

    public LttngTracing()
    {
        string? missing = Programs.FirstOrDefault(p => !File.Exists("/usr/bin/" + p));
        Wrapper = LibraryFolders.Select(d => Path.Combine(d, "liblttng-ust-libc-wrapper.so.1")).FirstOrDefault(File.Exists) ?? "";
        if (missing is not null || Wrapper.Length == 0)
        {
            _home.Dispose();
            throw new InvalidOperationException(
                $"LTTng import tests need {(missing is not null ? "/usr/bin/" + missing : "liblttng-ust-libc-wrapper.so.1")}: " +
                $"apt-get install -y --no-install-recommends {AptPackages} (.ci/run installs them)");
        }

        // A daemon of this user may already run (a developer's); then it is used and left alone.
        var (code, _, stderr) = Lttng("lttng-sessiond", "--daemonize", "--no-kernel");
        if (code == 0)
        {
            _startedDaemon = ReadDaemonPid();
        }
        else if (Lttng("lttng", "list").ExitCode != 0)
        {
            _home.Dispose();
            throw new InvalidOperationException($"lttng-sessiond --daemonize --no-kernel failed ({code}) and no session daemon answers: {stderr}");
        }
    }

    /// <summary>liblttng-ust-libc-wrapper.so.1 (from liblttng-ust1).</summary>
    public string Wrapper { get; }

    /// <summary>
    /// Runs <paramref name="command"/> with the libc wrapper preloaded (before <paramref name="preloadAfter"/>, if any)
    /// inside a fresh session that records the lttng_ust_libc events in a blocking channel (nothing discarded),
    /// with the vtid and vpid contexts when <paramref name="contexts"/>; returns the trace folder.
    /// </summary>
    /// <param name="dir">Where the trace folder goes (the program runs there too).</param>
    /// <param name="environment">The program's environment on top of a clean one (HOME, LD_PRELOAD and the LTTNG_UST_* settings are set here).</param>
    public string Record(string dir, IReadOnlyList<string> command, IReadOnlyDictionary<string, string>? environment = null,
        bool contexts = true, string events = "lttng_ust_libc:*", string? preloadAfter = null)
    {
        ArgumentNullException.ThrowIfNull(dir);
        string session = "ptreplay-test-" + Guid.NewGuid().ToString("N")[..12];
        string output = Path.Combine(dir, session);
        Must("lttng", "create", session, "--output=" + output);
        try
        {
            Must("lttng", "enable-channel", "-s", session, "-u", "--blocking-timeout=inf", "--subbuf-size=1M", "--num-subbuf=4", "libc");
            Must("lttng", "enable-event", "-s", session, "-u", "-c", "libc", events);
            if (contexts)
            {
                Must("lttng", "add-context", "-s", session, "-u", "-c", "libc", "-t", "vtid", "-t", "vpid");
            }

            Must("lttng", "start", session);
            var env = new Dictionary<string, string>(environment ?? new Dictionary<string, string>())
            {
                ["HOME"] = _home.Path,
                ["LTTNG_UST_ALLOW_BLOCKING"] = "1",
                // main() waits until the daemon enabled the events (default: at most 3 s), even on a loaded machine.
                ["LTTNG_UST_REGISTER_TIMEOUT"] = "30000",
                ["LD_PRELOAD"] = preloadAfter is null ? Wrapper : Wrapper + ":" + preloadAfter,
            };
            var (code, stdout, stderr) = ChildProcess.Run(command[0], command.Skip(1), CleanEnvironment.With(env), dir);
            LastStdout = stdout;
            if (code != 0)
            {
                throw new InvalidOperationException($"{string.Join(' ', command)} exited {code} under LTTng: {stderr}");
            }

            Must("lttng", "stop", session);
        }
        finally
        {
            Lttng("lttng", "destroy", session);
        }

        return output;
    }

    /// <summary>The standard output of the program <see cref="Record"/> ran last.</summary>
    public string LastStdout { get; private set; } = "";

    public void Dispose()
    {
        if (_startedDaemon > 0)
        {
            // SIGTERM lets the daemon stop its consumer daemons too; wait for it to be gone.
            ChildProcess.Run("/bin/kill", ["-TERM", _startedDaemon.ToString(System.Globalization.CultureInfo.InvariantCulture)], null);
            try
            {
                using Process p = Process.GetProcessById(_startedDaemon);
                p.WaitForExit(10_000);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
        }

        _home.Dispose();
    }

    private int ReadDaemonPid()
    {
        // root's daemon keeps its files in /var/run/lttng, another user's in $HOME/.lttng.
        string file = Environment.UserName == "root"
            ? "/var/run/lttng/lttng-sessiond.pid"
            : Path.Combine(_home.Path, ".lttng", "lttng-sessiond.pid");
        return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out int pid) ? pid : 0;
    }

    private (int ExitCode, string Stdout, string Stderr) Lttng(string program, params string[] args) =>
        ChildProcess.Run("/usr/bin/" + program, args, CleanEnvironment.With(new Dictionary<string, string> { ["HOME"] = _home.Path, ["LC_ALL"] = "C" }));

    private void Must(string program, params string[] args)
    {
        var (code, stdout, stderr) = Lttng(program, args);
        if (code != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({code}): {stdout}{stderr}");
        }
    }
}

/// <summary>Shares one <see cref="LttngTracing"/> (one session daemon) across the LTTng test classes, which run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class LttngGroup : ICollectionFixture<LttngTracing>
{
    public const string Name = "lttng tracing";
}
