using System.Globalization;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Cli.Commands;

/// <summary>After `record`: packs the traces (unless --raw) and prints the one-line summary to stderr.</summary>
internal static class RecordingReport
{
    /// <summary>Packs every trace of the run in place when asked, then describes the started program's trace.</summary>
    public static string Finish(RecordingResult result, bool pack)
    {
        if (!File.Exists(result.TracePath))
        {
            return $"ptreplay record: no trace was written to {result.TracePath} (the program may not be dynamically linked, " +
                   "or it could not load the recorder)";
        }

        if (pack)
        {
            foreach (string trace in result.ChildTraces.Prepend(result.TracePath))
            {
                TracePacker.Pack(trace, trace);
            }
        }

        RecordingSummary s = RecordingSummary.Of(result.TracePath);
        var line = string.Create(CultureInfo.InvariantCulture,
            $"ptreplay record: {result.TracePath}: {s.Events:N0} events, {s.Threads} thread{(s.Threads == 1 ? "" : "s")}, " +
            $"{s.DurationNs / 1e9:F3} s traced, {s.BytesPerEvent:F2} bytes/event ({(pack ? "packed" : "raw")})");
        if (s.Truncated)
        {
            line += ", truncated (the program did not exit normally)";
        }

        line += result.ChildTraces.Count switch
        {
            0 => ", no child traces",
            1 => ", 1 child trace: " + Path.GetFileName(result.ChildTraces[0]),
            int k => string.Create(CultureInfo.InvariantCulture, $", {k} child traces: {Path.GetFileName(result.ChildTraces[0])} ..."),
        };
        return line;
    }
}
