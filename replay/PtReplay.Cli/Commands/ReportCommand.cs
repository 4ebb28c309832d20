using System.CommandLine;
using PtReplay.Reports.Html;
using PtReplay.Reports.Input;
using PtReplay.Reports.Plots;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay report DIR... -o report.html`: one self-contained HTML page comparing the engines of each replay output.
/// Exit codes: <see cref="ExitCodes"/> (0 written, 3 an input is missing or unreadable, 4 the page cannot be written).
/// </summary>
public static class ReportCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var dirs = new Argument<string[]>("DIR")
        {
            Description = "Replay outputs: folders written by `ptreplay replay --out DIR` (or their summary.json).",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<FileInfo>("--output", "-o") { Description = "The HTML file to write.", Required = true };
        var xAxis = new Option<string>("--x-axis")
        {
            Description = "What the time series' x axis counts: 'calls' (the call index, the same for every engine) or 'time' " +
                          "(the recorded time of that call in seconds, so the program's pauses show; replay outputs written " +
                          "before recorded times were kept fall back to calls).",
            DefaultValueFactory = _ => "calls",
        };
        xAxis.AcceptOnlyFromAmong("calls", "time");
        var command = new Command("report",
            "Write one self-contained HTML page (no external files: plots are embedded SVG) comparing the engines of each " +
            "replay output: trace facts, a summary table (peak live, peak/final footprint and RSS, Johnstone-Wilson ratios, " +
            "fragmentation), footprint, RSS and fragmentation over time (a line per engine), the recording's live bytes by " +
            "request size class over time, latency percentiles per call kind, " +
            "and a short guide to reading it. Engines that failed show their error.\n\n" +
            "Examples:\n" +
            "  ptreplay report out/replay-python out/replay-sqlite -o report.html\n" +
            "  ptreplay report reports/out/20260101T000000Z/replay-* -o report.html\n" +
            "  ptreplay report out/replay-python --x-axis time -o report.html\n\n" +
            ExitCodes.Help)
        {
            dirs, output, xAxis,
        };
        command.SetAction(CliErrors.Guard("report", parse =>
        {
            string[] inputs = parse.GetValue(dirs) ?? [];
            string target = CliPaths.OutputFile(parse.GetValue(output)!.FullName);
            var outputs = new List<ReplayOutput>();
            foreach (string input in inputs)
            {
                outputs.Add(ReplayOutputReader.Read(input));
            }

            SeriesAxis axis = parse.GetValue(xAxis) == "time" ? SeriesAxis.RecordedTime : SeriesAxis.Calls;
            string html = HtmlReport.Build(outputs, name => Console.Error.WriteLine($"report: plotting {name}"), axis);
            try
            {
                File.WriteAllText(target, html);
            }
            catch (IOException e)
            {
                throw CliException.OutputFailed($"{target}: cannot write the report: {e.Message}", e);
            }

            Console.WriteLine($"wrote {target}");
            return ExitCodes.Ok;
        }));
        return command;
    }
}
