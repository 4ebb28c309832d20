using System.Diagnostics;
using System.Globalization;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// A SIGTERM ends a two-thread program while both threads allocate: the thread that takes the signal writes
/// out the other thread's buffer while that thread goes on appending to it (and, every few milliseconds,
/// fills it and writes it itself). Whatever the timing, the trace must read as cut (no end block), never as
/// corrupt: no block written with a CRC over bytes that changed under it, no block written twice.
/// </summary>
public class RecorderFatalSignalTests
{
    /// <summary>Enough runs that a race hit in a few percent of them shows; each run lasts a fraction of a second.</summary>
    private const int Runs = 24;

    [Fact]
    public void ASignalEndingTheProcess_WhileAnotherThreadRecords_LeavesACutTraceNeverACorruptOne()
    {
        using var dir = new TempDir();
        string program = NativeTestBuild.Program("endless", TestPrograms.Endless);
        string library = NativeArtifacts.Find(NativeArtifacts.Recorder);
        var corrupt = new List<string>();
        for (int run = 0; run < Runs; run++)
        {
            string trace = dir.File($"run{run}.trace");
            RecordUntilKilled(program, library, trace, dir.Path, delayMs: run % 8);
            using TraceReader reader = TraceReader.Open(trace);
            try
            {
                long events = reader.ReadAll().LongCount();
                Assert.True(events > 50_000, $"run {run}: only {events} events");
                if (!reader.IsTruncated)
                {
                    corrupt.Add($"run {run}: not read as cut");
                }
            }
            catch (TraceCorruptException e)
            {
                corrupt.Add($"run {run}: {e.Message}");
            }
        }

        Assert.True(corrupt.Count == 0, string.Join("\n", corrupt));
    }

    private static void RecordUntilKilled(string program, string library, string trace, string home, int delayMs)
    {
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true };
        psi.Environment.Clear();
        foreach (var (name, value) in RecordingRuns.BaseEnvironment(home))
        {
            psi.Environment[name] = value;
        }

        psi.Environment[RecorderEnvironment.Preload] = library;
        psi.Environment[RecorderEnvironment.Out] = trace;
        psi.Environment[RecorderEnvironment.Role] = "root";
        using Process p = Process.Start(psi)!;
        try
        {
            Assert.Equal("ready", p.StandardOutput.ReadLine());
            Thread.Sleep(delayMs);
            (int killed, _, string why) = ChildProcess.Run("/bin/kill", ["-TERM", p.Id.ToString(CultureInfo.InvariantCulture)], null);
            Assert.True(killed == 0, why);
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(1)), "the program did not end on SIGTERM");
            Assert.Equal(128 + 15, p.ExitCode); // ended by the signal, as it would have been unrecorded
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill();
            }
        }
    }
}
