using System.CommandLine;
using System.Globalization;
using PtReplay.Replay;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sweep;
using PtReplay.Reports.Sweep;
using PtReplay.Results;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay sweep TRACE... --tunable NAME=V1,V2,... [-o DIR] [--json]`: runs the C# ptmalloc model over every point of a
/// tunables grid for every trace, in parallel, and prints a table per trace with the best points
/// (<see cref="SweepRunner"/>). With -o DIR: DIR/sweep.json (<see cref="SweepResults"/>) and one summary.json per run.
/// With --validate a few points are also replayed under glibc and compared (<see cref="SweepValidator"/>).
/// Exit codes: <see cref="ExitCodes"/> (0 done, even when the model failed at some points; 1 a validated figure differs from
/// glibc's; 2 a bad tunable name or value; 5 when the model could not run at any point or glibc's validation replay could not run).
/// </summary>
public static class SweepCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var traces = new Argument<FileInfo[]>("TRACE")
        {
            Description = "The traces to sweep (from `ptreplay record`); each is prepared once.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var tunable = new Option<string[]>("--tunable", "-t")
        {
            HelpName = "NAME=V1,V2,...",
            Description = "One axis of the grid: a glibc malloc tunable and its values, e.g. glibc.malloc.mmap_threshold=64K,128K,1M " +
                "(numbers as in GLIBC_TUNABLES: decimal, 0x hex, leading-0 octal; K, M, G multiply by 1024, 1024², 1024³). " +
                "Repeat for more axes; the grid is every combination.",
            Arity = ArgumentArity.OneOrMore,
        };
        var outDir = new Option<string?>("--output", "-o", "--out")
        {
            HelpName = "DIR",
            Description = "Write DIR/sweep.json, DIR/TT-NAME/PPP/summary.json per trace and point (created) and DIR/sweep.html: the " +
                "best points, the figures against each tunable, a heat map for a grid of two tunables, the validation.",
        };
        var json = new Option<bool>("--json") { Description = "Print sweep.json's content on stdout instead of the table." };
        var parallel = new Option<int>("--parallel", "-j")
        {
            HelpName = "N",
            Description = "Model runs at once (default: the number of processors).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var touch = new Option<string>("--touch")
        {
            Description = "The model's touch model (as in `replay`): none, page (one byte per page), full (every byte).",
            DefaultValueFactory = _ => "page",
        };
        touch.AcceptOnlyFromAmong("none", "page", "full");
        var sampleEvery = new Option<long>("--sample-every")
        {
            HelpName = "N",
            Description = "Sample footprint and RSS every N calls (and at each new live peak), as in `replay`.",
            DefaultValueFactory = _ => 10_000,
        };
        var strict = new Option<bool>("--strict") { Description = "Stop at the first bad event instead of skipping it (exit 3)." };
        var shard = new Option<string?>("--shard")
        {
            HelpName = "K/N",
            Description = "Run only the points whose index % N is K - 1 (K from 1 to N), e.g. one shard per machine; with -o DIR " +
                "the shard's sweep.json and summaries go to DIR, and `sweep --merge` combines the shards' folders.",
        };
        var validate = new Option<bool>("--validate")
        {
            Description = "After the grid, replay the default point (no tunables), the best points and others, at most " +
                $"{SweepValidator.MaxPoints} per trace, natively under glibc (serial, no clock) and print a 'validation' section: per " +
                "point and figure the model's prediction against glibc's measurement. Exits 1 when a figure differs, 5 when " +
                "glibc's replay cannot run. Multi-thread traces are not validated (the model is exact there only with the sim preamble).",
        };
        var merge = new Option<string[]>("--merge")
        {
            HelpName = "DIR...",
            Description = "Combine the output folders of `sweep --shard K/N -o DIR` (every K once) into the output of one run: " +
                "the table (or --json), and with -o OUT OUT/sweep.json and every point's summary.json. No TRACE or --tunable then.",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };

        var command = new Command("sweep",
            "What-if sweep: replay traces into the C# ptmalloc model under every combination of the given glibc malloc tunables " +
            "and rank the combinations. The model is deterministic, so each point runs once; the runs go in parallel over the " +
            "processors and replay without a clock (memory figures only) and without a preamble (the recorded program alone, as " +
            "`replay --engine sim --sim-preamble none`). Prints per trace one row per point (peak footprint, peak RSS, final RSS, " +
            "Johnstone-Wilson ratios) and the best points by peak footprint, final RSS and peak RSS over peak live.\n\n" +
            "Examples:\n" +
            "  ptreplay sweep py.trace --tunable glibc.malloc.mmap_threshold=64K,128K,1M --tunable glibc.malloc.arena_max=1,2,8\n" +
            "  ptreplay sweep a.trace b.trace -t glibc.malloc.trim_threshold=0,128K,1M -o out/sweep --parallel 2\n" +
            "  ptreplay sweep py.trace -t glibc.malloc.top_pad=0,64K,1M --shard 1/2 -o out/s1   # and --shard 2/2 -o out/s2\n" +
            "  ptreplay sweep --merge out/s1 out/s2 -o out/sweep\n" +
            "  ptreplay sweep py.trace -t glibc.malloc.mmap_threshold=64K,1M --validate   # check the model against glibc\n\n" +
            ExitCodes.Help)
        {
            traces, tunable, outDir, json, parallel, touch, sampleEvery, strict, shard, merge, validate,
        };

        command.SetAction(CliErrors.Guard("sweep", parse =>
        {
            string[] files = [.. (parse.GetValue(traces) ?? []).Select(f => f.FullName)];
            string? dir = parse.GetValue(outDir) is { } o ? CliPaths.OutputDirectory(o) : null;
            if (parse.GetValue(merge) is { Length: > 0 } folders)
            {
                if (files.Length > 0 || parse.GetValue(tunable) is { Length: > 0 } || parse.GetValue(shard) is not null || parse.GetValue(validate))
                {
                    throw CliException.Usage("--merge takes the shards' folders only: no TRACE, --tunable, --shard or --validate");
                }

                SweepResults merged;
                try
                {
                    string[] inputs = [.. folders.Select(f => Path.GetDirectoryName(CliPaths.Input(Path.Combine(f, SweepResults.FileName), "sweep results"))!)];
                    merged = SweepMerger.Merge(inputs, dir);
                }
                catch (ResultsFileException ex)
                {
                    throw CliException.BadInput(ex.Message, ex);
                }

                return Finish(merged, dir, parse.GetValue(json));
            }

            if (files.Length == 0)
            {
                throw CliException.Usage("give at least one TRACE (or --merge DIR...)");
            }

            SweepShard? part = ParseShard(parse.GetValue(shard));
            SweepGrid grid = SweepGrid.Parse(parse.GetValue(tunable) ?? []);
            int degree = parse.GetValue(parallel);
            if (degree < 1)
            {
                throw CliException.Usage("--parallel must be at least 1");
            }

            long every = parse.GetValue(sampleEvery);
            if (every < 1)
            {
                throw CliException.Usage("--sample-every must be at least 1");
            }

            files = [.. files.Select(f => CliPaths.Input(f))];
            SweepResults results;
            using (var progress = new ProgressDisplay())
            {
                var request = new SweepRequest
                {
                    Traces = files,
                    Grid = grid,
                    Shard = part,
                    Parallel = degree,
                    OutputDirectory = dir,
                    Options = new ReplayOptions
                    {
                        Touch = parse.GetValue(touch) switch { "none" => TouchMode.None, "full" => TouchMode.Full, _ => TouchMode.Page },
                    },
                    PrepareProgress = (trace, n) => progress.Count("prepare " + Path.GetFileName(trace), n),
                    Preparation = new PreparationOptions { Strict = parse.GetValue(strict), SampleEvery = every },
                    // The step shows the share of runs done and the time left (no events per second: runs differ in length).
                    PointDone = (done, all) => progress.Fraction("sweep", (double)done / all),
                    Validate = parse.GetValue(validate),
                    ValidationDone = (done, all) => progress.Fraction("validate under glibc", (double)done / all),
                };
                results = SweepRunner.Run(request);
            }

            return Finish(results, dir, parse.GetValue(json));
        }));
        return command;
    }

    /// <summary>Writes DIR/sweep.json (with an output folder) and prints the table or the JSON; the exit code.</summary>
    private static int Finish(SweepResults results, string? dir, bool json)
    {
        if (dir is not null)
        {
            SweepFile.Write(Path.Combine(dir, SweepResults.FileName), results);
            File.WriteAllText(Path.Combine(dir, SweepReport.FileName), SweepReport.Build(results));
        }

        if (json)
        {
            Console.WriteLine(SweepFile.ToJson(results));
        }
        else
        {
            SweepTable.Print(Console.Out, results);
            if (dir is not null)
            {
                Console.WriteLine($"wrote {Path.Combine(dir, SweepResults.FileName)} and {Path.Combine(dir, SweepReport.FileName)}");
            }
        }

        if (results.ValidationNotes?.FirstOrDefault(n => n.CannotRun) is { } failed)
        {
            Console.Error.WriteLine($"ptreplay sweep: --validate: {failed.Message}");
        }

        return ExitCodeOf(results);
    }

    /// <summary>
    /// The exit code of a sweep's results: 5 when the model ran at no point or glibc's validation replay could not run,
    /// 1 when a validated figure differs from glibc's, 0 otherwise.
    /// </summary>
    public static int ExitCodeOf(SweepResults results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (results.Points.Count > 0 && results.Points.All(p => p.Error is not null))
        {
            return ExitCodes.CannotRun;
        }

        if (results.ValidationNotes?.Any(n => n.CannotRun) == true)
        {
            return ExitCodes.CannotRun;
        }

        return results.Validation?.Any(c => !c.Equal) == true ? ExitCodes.No : ExitCodes.Ok;
    }

    /// <summary>"K/N" with 1 ≤ K ≤ N; null for no shard. A usage error otherwise.</summary>
    public static SweepShard? ParseShard(string? text)
    {
        if (text is null)
        {
            return null;
        }

        string[] parts = text.Split('/');
        if (parts.Length == 2 &&
            int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k) &&
            int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) &&
            k >= 1 && k <= n)
        {
            return new SweepShard(k, n);
        }

        throw CliException.Usage($"--shard '{text}': write K/N with 1 <= K <= N, e.g. 1/4");
    }
}
