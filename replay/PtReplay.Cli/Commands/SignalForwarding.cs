using System.Runtime.InteropServices;

namespace PtReplay.Cli.Commands;

/// <summary>
/// While `record` runs a program: SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to ptreplay go on to the program,
/// and ptreplay stays to pack and summarise what was recorded once the program has ended.
/// When ptreplay runs in the foreground of a terminal, the terminal's own Ctrl-C, Ctrl-\ and hangup already reach
/// the program (it shares ptreplay's process group), so those three are not sent a second time; SIGTERM,
/// which no terminal generates, is always forwarded.
/// Invariant: a signal that arrives before the program runs is forwarded the moment it does.
/// </summary>
internal sealed partial class SignalForwarding : IDisposable
{
    private static readonly (PosixSignal Signal, int Number)[] Forwarded =
    [
        (PosixSignal.SIGINT, 2), (PosixSignal.SIGQUIT, 3), (PosixSignal.SIGHUP, 1), (PosixSignal.SIGTERM, 15),
    ];

    private readonly List<PosixSignalRegistration> _registrations = [];
    private readonly bool _terminalReachesProgram = InTerminalForeground();
    private readonly object _lock = new();
    private int _pid;
    private int _pending;

    /// <summary>Registers the handlers; from now on these signals no longer end ptreplay.</summary>
    public SignalForwarding()
    {
        foreach ((PosixSignal signal, int number) in Forwarded)
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, c =>
            {
                c.Cancel = true;
                Receive(number);
            }));
        }
    }

    /// <summary>The last signal forwarded to the program (0: none); its name for the summary.</summary>
    public int LastForwarded { get; private set; }

    /// <summary>The program runs with this pid: signals go to it from now on.</summary>
    public void Started(int pid)
    {
        int pending;
        lock (_lock)
        {
            _pid = pid;
            pending = _pending;
        }

        if (pending != 0)
        {
            Send(pid, pending);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (PosixSignalRegistration r in _registrations)
        {
            r.Dispose();
        }
    }

    /// <summary>"SIGTERM" and so on, for the signals forwarded here.</summary>
    public static string Name(int number) => number switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        15 => "SIGTERM",
        _ => "signal " + number.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private void Receive(int number)
    {
        if (number != 15 && _terminalReachesProgram)
        {
            return;
        }

        int pid;
        lock (_lock)
        {
            pid = _pid;
            if (pid == 0)
            {
                _pending = number;
            }
        }

        if (pid != 0)
        {
            Send(pid, number);
        }
    }

    private void Send(int pid, int number)
    {
        LastForwarded = number;
        _ = Kill(pid, number); // the program may have ended meanwhile: nothing to do then
    }

    /// <summary>True when stdin is a terminal whose foreground process group is ptreplay's.</summary>
    private static bool InTerminalForeground()
    {
        int group = TerminalForegroundGroup(0);
        return group > 0 && group == ProcessGroup();
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "tcgetpgrp")]
    private static partial int TerminalForegroundGroup(int fd);

    [LibraryImport("libc", EntryPoint = "getpgrp")]
    private static partial int ProcessGroup();
}
