using System.CommandLine;
using PtReplay.Reports.Compare;
using PtReplay.Reports.Input;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay compare A B [--json] [--fail-on LIMITS] [--markdown FILE] [--alpha P]`: two replay outputs side by side, with B / A per
/// engine and figure; with --fail-on, a regression gate (<see cref="RegressionCheck"/>).
/// Exit codes: <see cref="ExitCodes"/> (0 printed / within the limits, 1 a figure beyond its limit, 2 a bad limit,
/// 3 an input is missing or unreadable: the message names the file, 4 the Markdown file cannot be written).
/// </summary>
public static class CompareCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var a = new Argument<string>("A") { Description = "The reference replay output (folder or its summary.json)." };
        var b = new Argument<string>("B") { Description = "The replay output compared with it." };
        var json = new Option<bool>("--json")
        {
            Description = "Print JSON: { a, b, engines: { ENGINE: { FIGURE: { a, b, ratio, runs_a?, runs_b? } } }, notes }; runs_a " +
                "and runs_b list each run's value of a figure that varies by run, for engines replayed with --repeat.",
        };
        var failOn = new Option<string?>("--fail-on")
        {
            HelpName = "LIMITS",
            Description = "Fail (exit 1) when a figure of B is worse than A's beyond its limit: comma-separated " +
                "[ENGINE:]FIGURE=+N% (relative) or [ENGINE:]FIGURE=+N (absolute, in the figure's unit), e.g. " +
                "'peak_footprint=+5%,final_rss=+5%,malloc.p99=+10%'. FIGURE is a summary.json figure (the _bytes suffix may be " +
                "left out) or KIND.pNN for latency; a limit applies to every engine present in both unless ENGINE: is given. " +
                "Prints each figure beyond its limit, and a warning when A and B recorded different programs. A limit that " +
                "matches no figure fails too. Latency of native engines varies from run to run: replay both sides with --repeat N " +
                $"(N >= {ShiftTest.MinRuns}) and a latency limit is judged over the runs by a one-sided Mann-Whitney test (Perfolizer): " +
                "it fails only when B's runs are significantly above A's runs raised by the limit (see --alpha). With fewer runs " +
                "the single value (the median) is compared with the limit, and the output says so. A memory figure whose runs differ " +
                "(jemalloc's) is judged over the runs the same way; every other figure (the model's, live bytes, a serial glibc " +
                "replay's memory) is compared exactly.",
        };
        var markdown = new Option<string?>("--markdown")
        {
            HelpName = "FILE",
            Description = "With --fail-on: also write the checked figures as a Markdown table to FILE ('-' for standard output), " +
                "e.g. \"$GITHUB_STEP_SUMMARY\" in a GitHub Actions job, or a pull-request comment.",
        };
        var alpha = new Option<double>("--alpha")
        {
            HelpName = "P",
            Description = "With --fail-on: the significance level of the test over runs (a latency limit with " +
                $"{ShiftTest.MinRuns} or more runs a side fails when its p-value is below P).",
            DefaultValueFactory = _ => ShiftTest.DefaultAlpha,
        };
        var command = new Command("compare",
            "Compare two replay outputs (folders from `ptreplay replay --out` or their summary.json): for every engine present " +
            "in both, every figure (memory, fragmentation, J&W ratios, latency percentiles) of A and B and the ratio B/A. " +
            "A ratio above 1 means B is larger (more memory, slower). Engines missing or failed on either side are noted.\n\n" +
            "Examples:\n" +
            "  ptreplay compare out/py-default out/py-arena2\n" +
            "  ptreplay compare old/summary.json new/summary.json --json\n" +
            "  ptreplay compare base/ pr/ --fail-on 'peak_footprint=+5%,final_rss=+5%,malloc.p99=+10%' --markdown \"$GITHUB_STEP_SUMMARY\"\n" +
            "  ptreplay compare base/ pr/ --fail-on 'glibc:malloc.p50=+20%'   # both replayed with --repeat 5: a test over the runs\n\n" +
            ExitCodes.Help)
        {
            a, b, json, failOn, markdown, alpha,
        };
        command.SetAction(CliErrors.Guard("compare", parse =>
        {
            IReadOnlyList<FigureLimit>? limits = null;
            if (parse.GetValue(failOn) is { } spec)
            {
                try
                {
                    limits = FigureLimit.ParseList(spec);
                }
                catch (FormatException e)
                {
                    throw CliException.Usage(e.Message);
                }
            }

            string? markdownPath = parse.GetValue(markdown);
            if (markdownPath is not null && limits is null)
            {
                throw CliException.Usage("--markdown writes the --fail-on check: give --fail-on too");
            }

            double significance = parse.GetValue(alpha);
            if (!(significance is > 0 and < 1))
            {
                throw CliException.Usage("--alpha must be between 0 and 1 (exclusive), e.g. 0.05");
            }

            if (markdownPath is not null and not "-")
            {
                markdownPath = CliPaths.OutputFile(markdownPath);
            }

            var comparison = Comparison.Of(
                ReplayOutputReader.Read(parse.GetValue(a)!, withSeries: false),
                ReplayOutputReader.Read(parse.GetValue(b)!, withSeries: false));
            Console.Write(parse.GetValue(json) ? comparison.ToJson() + "\n" : comparison.ToText());
            if (limits is null)
            {
                return ExitCodes.Ok;
            }

            RegressionCheck check = RegressionCheck.Of(comparison, limits, significance);
            Console.Write(check.ToText());
            if (markdownPath == "-")
            {
                Console.Write(check.ToMarkdown());
            }
            else if (markdownPath is not null)
            {
                try
                {
                    File.AppendAllText(markdownPath, check.ToMarkdown());
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw CliException.OutputFailed($"{markdownPath}: cannot write the Markdown table: {e.Message}", e);
                }
            }

            return check.Failed ? ExitCodes.No : ExitCodes.Ok;
        }));
        return command;
    }
}
