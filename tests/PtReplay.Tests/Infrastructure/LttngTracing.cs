using System.Diagnostics;

namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// Records real programs with LTTng-UST's libc wrapper, the way a user would (see `ptreplay import-lttng
/// --help`): a user-space session daemon (started on the first recording when none runs, stopped again at the
/// end), one session per recording with a unique name and an output folder under a temp folder, always destroyed.
/// <para>Needs lttng-tools, liblttng-ust1 and babeltrace2 (.ci/run installs them): <see cref="Record"/> checks them
/// through <see cref="Requires"/>, so a test that records is skipped (failed under
/// PTREPLAY_REQUIRE_ALL_PACKAGES=1) on a machine without them, and the tests of the same class that record
/// nothing still run. The session daemon runs in user space only (--no-kernel): no kernel modules, so it works
/// in containers.</para>
/// </summary>
public sealed class LttngTracing : IDisposable
{
    private readonly TempDir _home = new("ptrec-lttng-");
    private readonly Lock _gate = new();
    private bool _daemonChecked;
    private int _startedDaemon;
    private string _wrapper = "";

    /// <summary>liblttng-ust-libc-wrapper.so.1 (from liblttng-ust1).</summary>
    public string Wrapper
    {
        get
        {
            EnsureDaemon();
            return _wrapper;
        }
    }

    /// <summary>
    /// Runs <paramref name="command"/> with the libc wrapper preloaded (before <paramref name="preloadAfter"/>, if any)
    /// inside a fresh session that records the lttng_ust_libc events in a blocking channel (nothing discarded)
    /// named <paramref name="channel"/> (LTTng's default name unless a test wants another), with the event
    /// context types <paramref name="contexts"/> (default: vpid, vtid and procname, what `import-lttng --help`
    /// asks for; empty: no context), in per-user buffers (LTTng's default: one trace folder per user and bitness)
    /// or, with <paramref name="perProcessBuffers"/>, per-process ones (one folder, with its own clock offset, per
    /// process); returns the trace folder.
    /// </summary>
    /// <param name="dir">Where the trace folder goes (the program runs there too).</param>
    /// <param name="environment">The program's environment on top of a clean one (HOME, LD_PRELOAD and the LTTNG_UST_* settings are set here).</param>
    public string Record(string dir, IReadOnlyList<string> command, IReadOnlyDictionary<string, string>? environment = null,
        IReadOnlyList<string>? contexts = null, string events = "lttng_ust_libc:*", string? preloadAfter = null, string channel = "channel0",
        bool perProcessBuffers = false)
    {
        ArgumentNullException.ThrowIfNull(dir);
        EnsureDaemon();
        string session = "ptreplay-test-" + Guid.NewGuid().ToString("N")[..12];
        string output = Path.Combine(dir, session);
        Must("lttng", "create", session, "--output=" + output);
        try
        {
            string buffers = perProcessBuffers ? "--buffers-pid" : "--buffers-uid";
            Must("lttng", "enable-channel", "-s", session, "-u", buffers, "--blocking-timeout=inf", "--subbuf-size=1M", "--num-subbuf=4", channel);
            Must("lttng", "enable-event", "-s", session, "-u", "-c", channel, events);
            contexts ??= DefaultContexts;
            if (contexts.Count > 0)
            {
                Must("lttng", ["add-context", "-s", session, "-u", "-c", channel, .. contexts.SelectMany(c => new[] { "-t", c })]);
            }

            Must("lttng", "start", session);
            var env = new Dictionary<string, string>(environment ?? new Dictionary<string, string>())
            {
                ["HOME"] = _home.Path,
                ["LTTNG_UST_ALLOW_BLOCKING"] = "1",
                // main() waits until the daemon enabled the events (default: at most 3 s), even on a loaded machine.
                ["LTTNG_UST_REGISTER_TIMEOUT"] = "30000",
                ["LD_PRELOAD"] = preloadAfter is null ? _wrapper : _wrapper + ":" + preloadAfter,
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

    /// <summary>The event context import-lttng asks for (see `ptreplay import-lttng --help`).</summary>
    public static readonly IReadOnlyList<string> DefaultContexts = ["vpid", "vtid", "procname"];

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

    /// <summary>
    /// Skips (see <see cref="Requires"/>) unless the three packages are installed; then, once, starts a session
    /// daemon unless one of this user already answers (a developer's, used and left alone).
    /// </summary>
    private void EnsureDaemon()
    {
        IReadOnlyList<string> found = Requires.Packages(
            ("lttng-tools", ["/usr/bin/lttng"]),
            ("lttng-tools", ["/usr/bin/lttng-sessiond"]),
            ("liblttng-ust1", ["liblttng-ust-libc-wrapper.so.1"]),
            ("babeltrace2", ["/usr/bin/babeltrace2"]));
        lock (_gate)
        {
            if (_daemonChecked)
            {
                return;
            }

            _daemonChecked = true;
            _wrapper = found[2];
            var (code, _, stderr) = Lttng("lttng-sessiond", "--daemonize", "--no-kernel");
            if (code == 0)
            {
                _startedDaemon = ReadDaemonPid();
            }
            else if (Lttng("lttng", "list").ExitCode != 0)
            {
                throw new InvalidOperationException($"lttng-sessiond --daemonize --no-kernel failed ({code}) and no session daemon answers: {stderr}");
            }
        }
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
