using System.CommandLine;
using PtReplay.Reports.Compare;
using PtReplay.Reports.Input;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay compare A B [--json]`: two replay outputs side by side, with B / A per engine and figure.
/// Exit codes: <see cref="ExitCodes"/> (0 printed, 3 an input is missing or unreadable: the message names the file).
/// </summary>
public static class CompareCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var a = new Argument<string>("A") { Description = "The reference replay output (folder or its summary.json)." };
        var b = new Argument<string>("B") { Description = "The replay output compared with it." };
        var json = new Option<bool>("--json") { Description = "Print JSON: { a, b, engines: { ENGINE: { FIGURE: { a, b, ratio } } }, notes }." };
        var command = new Command("compare",
            "Compare two replay outputs (folders from `ptreplay replay --out` or their summary.json): for every engine present " +
            "in both, every figure (memory, fragmentation, J&W ratios, latency percentiles) of A and B and the ratio B/A. " +
            "A ratio above 1 means B is larger (more memory, slower). Engines missing or failed on either side are noted.\n\n" +
            "Examples:\n" +
            "  ptreplay compare out/py-default out/py-arena2\n" +
            "  ptreplay compare old/summary.json new/summary.json --json\n\n" +
            ExitCodes.Help)
        {
            a, b, json,
        };
        command.SetAction(CliErrors.Guard("compare", parse =>
        {
            var comparison = Comparison.Of(
                ReplayOutputReader.Read(parse.GetValue(a)!, withSeries: false),
                ReplayOutputReader.Read(parse.GetValue(b)!, withSeries: false));
            Console.Write(parse.GetValue(json) ? comparison.ToJson() + "\n" : comparison.ToText());
            return ExitCodes.Ok;
        }));
        return command;
    }
}
