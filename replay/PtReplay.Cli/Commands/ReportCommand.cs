using System.CommandLine;
using PtReplay.Reports.Html;
using PtReplay.Reports.Input;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay report DIR... -o report.html`: one self-contained HTML page comparing the engines of each replay output.
/// Exit codes: 0 written, 2 an input is missing or unreadable (the message names the file).
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
        var command = new Command("report",
            "Write one self-contained HTML page (no external files: plots are embedded SVG) comparing the engines of each " +
            "replay output: trace facts, a summary table (peak live, peak/final footprint and RSS, Johnstone-Wilson ratios, " +
            "fragmentation), footprint, RSS and fragmentation over time (a line per engine), latency percentiles per call kind, " +
            "and a short guide to reading it. Engines that failed show their error.\n\n" +
            "Examples:\n" +
            "  ptreplay report out/replay-python out/replay-sqlite -o report.html\n" +
            "  ptreplay report reports/out/20260101T000000Z/replay-* -o report.html\n\n" +
            "Exit codes: 0 written, 2 an input is missing or unreadable.")
        {
            dirs, output,
        };
        command.SetAction(parse =>
        {
            string[] inputs = parse.GetValue(dirs) ?? [];
            string target = parse.GetValue(output)!.FullName;
            try
            {
                var outputs = new List<ReplayOutput>();
                foreach (string input in inputs)
                {
                    outputs.Add(ReplayOutputReader.Read(input));
                }

                string html = HtmlReport.Build(outputs, name => Console.Error.WriteLine($"report: plotting {name}"));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.WriteAllText(target, html);
            }
            catch (ReportInputException ex)
            {
                Console.Error.WriteLine($"report: {ex.Message}");
                return 2;
            }
            catch (IOException ex)
            {
                Console.Error.WriteLine($"report: cannot write {target}: {ex.Message}");
                return 2;
            }

            Console.WriteLine($"wrote {target}");
            return 0;
        });
        return command;
    }
}
