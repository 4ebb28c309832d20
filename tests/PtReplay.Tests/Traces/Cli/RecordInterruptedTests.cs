using System.Diagnostics;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Recording;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces.Cli;

/// <summary>
/// A signal sent to `ptreplay record` goes on to the recorded program; ptreplay waits for it, then packs and
/// summarises what was recorded: the trace reads as truncated, with the events written before the signal.
/// </summary>
public class RecordInterruptedTests
{
    [Theory]
    [InlineData("TERM", 15, false)]
    [InlineData("HUP", 1, false)]
    [InlineData("TERM", 15, true)]
    public async Task ASignalToRecord_EndsTheProgram_AndTheTraceIsKept(string signal, int number, bool raw)
    {
        using var dir = new TempDir();
        string program = NativeTestBuild.Program("endless", TestPrograms.Endless);
        string trace = dir.File("endless.trace");
        string dll = Path.Combine(AppContext.BaseDirectory, "ptreplay.dll");
        string dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var psi = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])[dll, "record", "-o", trace, .. raw ? (string[])["--raw"] : [], "--", program])
        {
            psi.ArgumentList.Add(a);
        }

        using Process record = Process.Start(psi)!;
        Task<string> stderr = record.StandardError.ReadToEndAsync();
        try
        {
            Assert.Equal("ready", record.StandardOutput.ReadLine());
            (int killed, _, string why) = ChildProcess.Run("/bin/kill", ["-" + signal, record.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], null);
            Assert.True(killed == 0, why);
            Assert.True(record.WaitForExit(TimeSpan.FromMinutes(1)), "ptreplay record did not end");
        }
        finally
        {
            if (!record.HasExited)
            {
                record.Kill(entireProcessTree: true);
            }
        }

        string summary = await stderr;
        Assert.Equal(128 + number, record.ExitCode); // the program's end, as ptreplay reports it
        Assert.Contains($"passed SIG{signal} on to the program", summary, StringComparison.Ordinal);
        Assert.Contains($"truncated (signal {number} ended the program)", summary, StringComparison.Ordinal);
        using TraceReader reader = TraceReader.Open(trace);
        Assert.True(reader.IsTruncated);
        List<AllocEvent> events = reader.ReadAll().ToList();
        Assert.True(events.Count(e => e.Kind == EventKind.Malloc && e.Size == 24) > 50_000, summary);
    }
}
