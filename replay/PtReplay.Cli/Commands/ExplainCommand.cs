using System.CommandLine;
using System.Globalization;
using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;
using PtReplay.Replay;
using PtReplay.Replay.Findings;
using PtReplay.Replay.Preparation;
using PtReplay.Results.Findings;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay explain TRACE [--at peak|end|OP]... [--json] [-o FILE.json]`: why the model's heap holds what it holds: free
/// bytes by bin and size class, what malloc_trim would return, the live chunks pinning free memory (with their age), and
/// the tunables the model predicts would lower the footprint.
/// </summary>
public static class ExplainCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var trace = new Argument<FileInfo>("TRACE") { Description = "The trace to explain (from `ptreplay record`)." };
        var at = new Option<string[]>("--at")
        {
            HelpName = "peak|end|OP",
            Description = "A moment to explain (repeatable; default: peak and end). peak = " + HeapmapCommand.PeakDefinition +
                "; end = after the last op; OP = after that many ops of the prepared trace.",
        };
        var json = new Option<bool>("--json") { Description = "Print findings.json on stdout instead of the text." };
        var output = new Option<string?>("--output", "-o") { HelpName = "FILE.json", Description = "Also write findings.json to FILE.json." };
        var pins = new Option<int>("--pins")
        {
            HelpName = "N",
            Description = "Pins listed per moment, those holding the most free memory first (the rest are summed). Default 10.",
            DefaultValueFactory = _ => 10,
        };
        var noSuggest = new Option<bool>("--no-suggestions") { Description = "Do not try tunables (each costs one whole model replay)." };
        var tunables = new Option<string?>("--tunables") { Description = "glibc tunables applied to the model (as `replay --tunables`). Default: the recorded process's malloc environment." };
        var verb = new Command("explain",
            "Explain the fragmentation of a trace from the model's exact chunk layout, at the peak of its committed footprint " +
            "and at the end:\n" +
            "  - where the free memory sits: bytes by bin kind (tcache, fastbin, unsorted, small, large) and the size classes " +
            "holding most of it, and what malloc_trim(0) would give back;\n" +
            "  - what pins the heap: a heap returns memory only from its top, so a live chunk with free memory below it keeps " +
            "that memory from the kernel. Each pin is listed with its address, size, the trace event that allocated it, its " +
            "age and the bytes it holds hostage;\n" +
            "  - what would change it: tunables chosen from these findings (arena_max, a fixed mmap_threshold, " +
            "trim_threshold, tcache_count, mxfast), each predicted by a whole model replay; those that lower the peak or end " +
            "footprint are listed best first.\n" +
            "The model is deterministic: the same trace gives the same findings. Predictions are the model's; check one natively " +
            "with `ptreplay replay TRACE --engine glibc --tunables ...`.\n\n" +
            "Examples:\n" +
            "  ptreplay explain app.trace\n" +
            "  ptreplay explain app.trace --at 120000 --no-suggestions\n" +
            "  ptreplay explain app.trace --json | jq '.moments[0].pins[0]'\n\n" +
            ExitCodes.Help)
        {
            trace, at, json, output, pins, noSuggest, tunables,
        };
        verb.SetAction(CliErrors.Guard("explain", parse =>
        {
            string[] moments = parse.GetValue(at) is { Length: > 0 } given ? given : ["peak", "end"];
            foreach (string m in moments)
            {
                if (m is not ("peak" or "end") && !long.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    throw CliException.Usage($"--at {m}: give peak, end or an op count (0 or more)");
                }
            }

            int perHeap = parse.GetValue(pins);
            if (perHeap < 0)
            {
                throw CliException.Usage($"--pins {perHeap}: give 0 or more");
            }

            string? outPath = parse.GetValue(output);
            if (outPath is not null)
            {
                CliPaths.OutputFile(outPath);
            }

            string? tunableText = parse.GetValue(tunables);
            string? checkedTunables = tunableText is null ? null : MallocTunables.ParseChecked(tunableText).ToGlibcTunables();
            string file = CliPaths.Input(parse.GetValue(trace)!.FullName);
            string work = Directory.CreateTempSubdirectory("ptreplay-explain-").FullName;
            try
            {
                var options = new ReplayOptions { Tunables = checkedTunables };
                PreparedInput input = ReplayRunner.PrepareFile(file, work, options, new PreparationOptions().WithRecordedTimes());
                foreach (string m in moments)
                {
                    if (long.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > input.Prepared.OpCount)
                    {
                        throw CliException.Usage(string.Create(CultureInfo.InvariantCulture,
                            $"--at {n}: the trace has {input.Prepared.OpCount} ops (give 0 to {input.Prepared.OpCount}, peak or end)"));
                    }
                }

                var request = new FindingsRequest { Moments = moments, Pins = perHeap, Suggest = !parse.GetValue(noSuggest) };
                HeapFindingsFile findings;
                try
                {
                    findings = HeapFindingsBuilder.Build(input, options, checkedTunables, request, line => Console.Error.WriteLine($"explain: {line}"));
                }
                catch (MallocAbortException ex)
                {
                    throw CliException.BadInput(ex.GlibcMessage, ex);
                }

                if (outPath is not null)
                {
                    File.WriteAllText(Path.GetFullPath(outPath), HeapFindingsJson.Serialize(findings) + "\n");
                }

                Console.Out.Write(parse.GetValue(json) ? HeapFindingsJson.Serialize(findings) + "\n" : ExplainText.Format(findings));
                return ExitCodes.Ok;
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }));
        return verb;
    }
}
