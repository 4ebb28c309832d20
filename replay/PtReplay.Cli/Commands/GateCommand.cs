using System.CommandLine;
using PtReplay.Replay.Gate;
using PtReplay.Reports.Gate;
using PtReplay.Reports.Input;
using PtReplay.Traces;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay gate --baseline FILE [--update] TRACE...`: the model's regression gate (logic in
/// <see cref="ModelGate"/> and <see cref="GateCheck"/>).
/// Exit codes: 0 every figure equal (or baseline written), 1 a figure differs, 2 bad input.
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
            "Exit codes: 0 all figures equal (or baseline updated), 1 some figure differs, 2 missing or unreadable trace or baseline.")
        {
            traces, baseline, update,
        };
        command.SetAction(parse =>
        {
            FileInfo[] files = parse.GetValue(traces) ?? [];
            string baselinePath = parse.GetValue(baseline)!.FullName;
            bool rewrite = parse.GetValue(update);
            try
            {
                ModelBaseline expected = rewrite ? new ModelBaseline() : ModelBaseline.Read(baselinePath);
                var diffs = new List<string>();
                foreach (FileInfo file in files)
                {
                    if (!file.Exists)
                    {
                        Console.Error.WriteLine($"gate: trace {file.FullName} not found");
                        return 2;
                    }

                    Console.Error.WriteLine($"gate: replaying {file.Name} into the model");
                    IReadOnlyDictionary<string, long> figures = ModelGate.Measure(file.FullName);
                    string key = ModelBaseline.Key(file.FullName);
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
            }
            catch (ReportInputException ex)
            {
                Console.Error.WriteLine($"gate: {ex.Message}");
                return 2;
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or NotSupportedException or TraceCorruptException)
            {
                Console.Error.WriteLine($"gate: {ex.Message}");
                return 2;
            }
        });
        return command;
    }
}
