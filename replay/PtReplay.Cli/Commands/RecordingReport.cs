using System.Globalization;
using PtReplay.Traces.Recording;

namespace PtReplay.Cli.Commands;

/// <summary>The one-line summary `record` prints to stderr after the program exits.</summary>
internal static class RecordingReport
{
    public static string OneLine(RecordingResult result, bool packTrace)
    {
        _ = packTrace;
        var info = new FileInfo(result.TracePath);
        string size = info.Exists ? info.Length.ToString("N0", CultureInfo.InvariantCulture) + " bytes" : "no trace written";
        return $"ptreplay record: {result.TracePath}: {size}, {result.WallTime.TotalSeconds:F2} s, " +
               $"child traces: {result.ChildTraces.Count}, exit code {result.ExitCode}";
    }
}
