using System.Runtime.InteropServices;

namespace PtReplay.Cli.Commands;

/// <summary>
/// CPU time (user + system) of this process (<see cref="OwnSeconds"/>) or of its children that have exited and been waited for (getrusage
/// RUSAGE_CHILDREN), their own waited-for descendants included. The difference of two readings around one
/// <see cref="PtReplay.Traces.Recording.Recorder.Run"/> is the CPU time of that run's whole process tree, provided no
/// other child exits in between (what `bench-record` ensures by running one program at a time).
/// </summary>
internal static partial class ChildCpuTime
{
    /// <summary>Seconds of CPU time of the waited-for children so far; NaN when getrusage fails.</summary>
    public static double Seconds() => Read(-1 /* RUSAGE_CHILDREN */);

    /// <summary>Seconds of CPU time of this process itself (every thread) so far; NaN when getrusage fails.</summary>
    public static double OwnSeconds() => Read(0 /* RUSAGE_SELF */);

    private static double Read(int who)
    {
        var usage = new RUsage();
        if (GetRUsage(who, ref usage) != 0)
        {
            return double.NaN;
        }

        return usage.UserSeconds + usage.UserMicroseconds / 1e6 + usage.SystemSeconds + usage.SystemMicroseconds / 1e6;
    }

    /// <summary>The start of struct rusage on 64-bit Linux: two struct timeval, then 14 longs this does not read.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        private unsafe fixed long _rest[14];
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRUsage(int who, ref RUsage usage);
}
