using System.CommandLine;
using PtReplay.Replay.Gate;
using PtReplay.Reports.Gate;
using PtReplay.Reports.Input;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay gate --baseline FILE [--update] TRACE...`: the model's regression gate (logic in
/// <see cref="ModelGate"/> and <see cref="GateCheck"/>).
/// Exit codes: <see cref="ExitCodes"/> (0 every figure equal or baseline written, 1 a figure differs).
/// </summary>
public static class GateCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var traces = new Argument<FileInfo[]>("TRACE") { Description = "Traces to replay into the model.", Arity = ArgumentArity.OneOrMore };
        var baseline = new Option<FileInfo>("--baseline") { Description = "The baseline JSON (e.g. reports/baseline/model-baseline.json).", Required = true };
        var update = new Option<bool>("--update") { Description = "Rewrite the baseline with the figures measured now (for exactly the given traces)." };
        var command = new Command("gate",
            "Regression gate for the C# ptmalloc model: replay each trace into the model only (engine sim, serial, touch=page, " +
            "the recorded malloc environment) and compare its deterministic figures - peak/final live bytes, peak/final " +
            "footprint, peak/final RSS, and address parity M/N with the recording - with the baseline, with exact equality " +
            "(these figures do not depend on timing or the machine; latency is not gated). Any change prints a line per figure " +
            "and fails; --update rewrites the baseline instead. Traces are matched with the baseline by file name.\n\n" +
            "Examples:\n" +
            "  ptreplay gate --baseline reports/baseline/model-baseline.json traces/samples/*.trace\n" +
            "  ptreplay gate --baseline reports/baseline/model-baseline.json --update traces/samples/*.trace\n\n" +
            "A figure that differs exits 1.\n" +
            ExitCodes.Help)
        {
            traces, baseline, update,
        };
        command.SetAction(CliErrors.Guard("gate", parse =>
        {
            FileInfo[] files = parse.GetValue(traces) ?? [];
            bool rewrite = parse.GetValue(update);
            string baselinePath = rewrite
                ? CliPaths.OutputFile(parse.GetValue(baseline)!.FullName)
                : CliPaths.Input(parse.GetValue(baseline)!.FullName, "baseline");
            string[] paths = files.Select(f => CliPaths.Input(f.FullName)).ToArray();
            ModelBaseline expected = rewrite ? new ModelBaseline() : ModelBaseline.Read(baselinePath);
            var diffs = new List<string>();
            foreach (string file in paths)
            {
                Console.Error.WriteLine($"gate: replaying {Path.GetFileName(file)} into the model");
                IReadOnlyDictionary<string, long> figures = ModelGate.Measure(file);
                string key = ModelBaseline.Key(file);
                if (rewrite)
                {
                    expected.Traces[key] = figures;
                    continue;
                }

                IReadOnlyList<string> d = GateCheck.Differences(expected, key, figures);
                Console.WriteLine(d.Count == 0
                    ? $"{key}: same ({figures["parity_identical"]}/{figures["parity_allocations"]} identical, peak footprint {figures["peak_footprint_bytes"]} B)"
                    : $"{key}: CHANGED");
                diffs.AddRange(d);
            }

            if (rewrite)
            {
                expected.Write(baselinePath);
                Console.WriteLine($"wrote {baselinePath} ({files.Length} trace(s))");
                return 0;
            }

            foreach (string d in diffs)
            {
                Console.WriteLine("  " + d);
            }

            Console.WriteLine(diffs.Count == 0 ? "gate: PASS" : $"gate: FAIL ({diffs.Count} figure(s) differ from {baselinePath})");
            return diffs.Count == 0 ? 0 : 1;
        }));
        return command;
    }
}
