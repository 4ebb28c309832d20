using System.CommandLine;
using System.Globalization;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay bench-record [-w NAME]... [-n N] [--no-heaptrack] [-- CMD ARGS...]`: the recorder's overhead.
/// For each program (by default every bundled workload), runs it unrecorded, recorded and under heaptrack in
/// rounds (one run of each variant per round, so drift of a shared machine hits all alike), and prints
/// median wall times, the median of the per-round ratios to the unrecorded run, and trace bytes per event
/// (raw and packed).
/// </summary>
public static class BenchRecordCommand
{
    /// <summary>The recorder's overhead target: recorded wall time at most this times the unrecorded one.</summary>
    public const double Target = 1.15;

    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var repeat = new Option<int>("--repeat", "-n")
        {
            Description = "Rounds per program; each round runs every variant once, in turn.",
            DefaultValueFactory = _ => 5,
        };
        var workloads = new Option<string[]>("--workload", "-w")
        {
            Description = $"Bundled workload(s) to measure: {string.Join(", ", BundledWorkloads.Names)} (repeat the option or use " +
                          "commas). Default: all of them, unless a command follows --.",
            AllowMultipleArgumentsPerToken = true,
        };
        var noHeaptrack = new Option<bool>("--no-heaptrack") { Description = "Skip the heaptrack runs." };
        var stacks = new Option<string?>("--stacks")
        {
            Description = "Also measure `record --stacks[=DEPTH]` (call stacks; DEPTH 1..128, default " +
                          $"{RecordingOptions.DefaultStackDepth}) as a variant of its own in every round, beside heaptrack (which " +
                          "records stacks too), with its trace's raw bytes per event.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var command = new Argument<string[]>("command")
        {
            Description = "A program of your own to measure instead (after --); its environment is yours.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verb = new Command("bench-record",
            "Measure the recorder's overhead on real programs: each runs unrecorded, recorded (raw trace) and under " +
            "heaptrack (if installed) in rounds, and the table shows median wall times, the median of the per-round " +
            $"ratios to the unrecorded run (target: at most {Target.ToString("F2", CultureInfo.InvariantCulture)}x), and the " +
            "trace's bytes per event, raw and packed (`ptreplay pack`). Programs' output is discarded.\n\n" +
            "Bundled workloads (heaptrack follows only the first process of a program that starts others, e.g. gcc):\n" +
            string.Concat(BundledWorkloads.Names.Select(n => $"  {n,-8} {Describe(n)}\n")) + "\n" +
            "Examples:\n" +
            "  ptreplay bench-record                       every bundled workload, 5 rounds\n" +
            "  ptreplay bench-record -w python -n 15       the densest one, 15 rounds\n" +
            "  ptreplay bench-record -w python --stacks    the cost of call stacks too, beside heaptrack's\n" +
            "  ptreplay bench-record -n 3 -- /usr/bin/perl traces/workloads/perl_work.pl 30\n\n" +
            "A run whose exit code differs from the unrecorded one's exits 1.\n" + ExitCodes.Help)
        {
            repeat, workloads, noHeaptrack, stacks, command,
        };
        verb.SetAction(CliErrors.Guard("bench-record", parse => Run(parse.GetValue(command) ?? [], parse.GetValue(workloads) ?? [],
            Math.Max(1, parse.GetValue(repeat)), !parse.GetValue(noHeaptrack),
            RecordCommand.StackDepth(parse.GetResult(stacks) is not null, parse.GetValue(stacks)))));
        return verb;
    }

    private static string Describe(string name)
    {
        try
        {
            return BundledWorkloads.Get(name).Description;
        }
        catch (IOException)
        {
            return "(not found: run from the repository)";
        }
    }

    private sealed record Variant(string Name, List<double> Seconds);

    /// <summary>What one program measured; the trace figures cover its child processes' traces too.</summary>
    private sealed record Measured(string Name, Variant Plain, Variant Recorded, Variant? Heaptrack, long Events, int Processes,
        double RawBytesPerEvent, double PackedBytesPerEvent, Variant? Stacked, double StackedBytesPerEvent, int Stacks);

    private static int Run(string[] command, string[] workloadArgs, int repeat, bool withHeaptrack, int stackDepth)
    {
        const string Heaptrack = "/usr/bin/heaptrack";
        withHeaptrack &= File.Exists(Heaptrack);
        List<BundledWorkload> programs;
        try
        {
            programs = command.Length > 0
                ? [new BundledWorkload(Path.GetFileName(command[0]), "", command, new Dictionary<string, string?>(), null)]
                : (workloadArgs.Length == 0 ? BundledWorkloads.Names : workloadArgs.SelectMany(a => a.Split(',', StringSplitOptions.RemoveEmptyEntries)))
                    .Select(BundledWorkloads.Get).ToList();
        }
        catch (Exception e) when (e is ArgumentException or IOException)
        {
            throw CliException.Usage(e.Message);
        }

        var results = new List<Measured>();
        foreach (BundledWorkload w in programs)
        {
            Measured? m = Measure(w, repeat, withHeaptrack ? Heaptrack : null, stackDepth);
            if (m is null)
            {
                return ExitCodes.No;
            }

            results.Add(m);
        }

        Print(results, repeat);
        return 0;
    }

    private static Measured? Measure(BundledWorkload w, int repeat, string? heaptrack, int stackDepth)
    {
        string work = Directory.CreateTempSubdirectory("ptreplay-bench-").FullName;
        string trace = Path.Combine(work, "bench.trace");
        string stackTrace = Path.Combine(work, "stacks.trace");
        var stacked = new Variant($"ptrecord --stacks={stackDepth}", []);
        var plain = new Variant("unrecorded", []);
        var recorded = new Variant("ptrecord", []);
        var heap = new Variant("heaptrack", []);
        int expectedExit = int.MinValue;
        Variant[] variants = heaptrack is not null ? [plain, recorded, heap] : [plain, recorded];
        if (stackDepth > 0)
        {
            variants = [.. variants, stacked];
        }

        var progress = new ProgressDisplay();
        int runs = 0;
        try
        {
            for (int i = 0; i < repeat; i++)
            {
                foreach (Variant v in variants)
                {
                    progress.Fraction(w.Name, (double)runs++ / (repeat * variants.Length));
                    string[] cmd = v == heap ? [heaptrack!, "-o", Path.Combine(work, "ht.%p"), .. w.Command] : [.. w.Command];
                    RecordingResult r = Recorder.Run(new RecordingOptions
                    {
                        Command = cmd,
                        Record = v == recorded || v == stacked,
                        OutputPath = v == stacked ? stackTrace : trace,
                        StackDepth = v == stacked ? stackDepth : 0,
                        ExtraEnvironment = w.Environment,
                        StandardInput = w.StandardInput,
                        CaptureOutput = true,
                    });
                    if (v == plain)
                    {
                        expectedExit = expectedExit == int.MinValue ? r.ExitCode : expectedExit;
                    }

                    if (r.ExitCode != expectedExit)
                    {
                        progress.Finish();
                        Console.Error.WriteLine($"bench-record: {w.Name}: the {v.Name} run exited with {r.ExitCode}, the unrecorded one with {expectedExit}: " +
                                                System.Text.Encoding.UTF8.GetString(r.StandardError));
                        return null;
                    }

                    v.Seconds.Add(r.WallTime.TotalSeconds);
                }
            }

            progress.Finish();
            long events = 0, rawBytes = 0, packedBytes = 0;
            IReadOnlyList<string> files = [trace, .. Recorder.FindChildTraces(trace)];
            foreach (string file in files)
            {
                RecordingSummary raw = RecordingSummary.Of(file);
                PackResult packed = TracePacker.Pack(file, file);
                events += raw.Events;
                rawBytes += raw.FileBytes;
                packedBytes += packed.OutputBytes;
            }

            long stackedEvents = 0, stackedBytes = 0;
            int stackCount = 0;
            if (stackDepth > 0)
            {
                foreach (string file in (IReadOnlyList<string>)[stackTrace, .. Recorder.FindChildTraces(stackTrace)])
                {
                    RecordingSummary raw = RecordingSummary.Of(file);
                    stackedEvents += raw.Events;
                    stackedBytes += raw.FileBytes;
                    using TraceReader reader = TraceReader.Open(file);
                    stackCount += reader.Stacks.Count;
                }
            }

            return new Measured(w.Name, plain, recorded, heaptrack is null ? null : heap, events, files.Count,
                events == 0 ? 0 : (double)rawBytes / events, events == 0 ? 0 : (double)packedBytes / events,
                stackDepth > 0 ? stacked : null, stackedEvents == 0 ? 0 : (double)stackedBytes / stackedEvents, stackCount);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void Print(List<Measured> results, int repeat)
    {
        var inv = CultureInfo.InvariantCulture;
        bool heap = results.Any(r => r.Heaptrack is not null);
        bool stacks = results.Any(r => r.Stacked is not null);
        Console.WriteLine($"{repeat} round(s) per program, one run of each variant per round; wall time in seconds; " +
                          "ratio = median of the per-round ratios to the unrecorded run (lowest..highest); events and bytes: " +
                          "every process the program started included");
        Console.WriteLine($"{"program",-10} {"events",11} {"ns/call",8} {"unrecorded",10} {"ptrecord",9} {"ratio",21}" +
                          (heap ? $" {"heaptrack",9} {"ratio",8}" : "") + $" {"raw B/ev",8} {"packed",7}" +
                          (stacks ? $" {"--stacks",9} {"ratio",21} {"B/ev",6} {"stacks",8}" : ""));
        int met = 0;
        foreach (Measured m in results)
        {
            double plain = Median(m.Plain.Seconds);
            List<double> ratios = PerRound(m.Recorded, m.Plain);
            double ratio = Median(ratios);
            met += ratio <= Target ? 1 : 0;
            double nsPerCall = m.Events > 0 ? plain * 1e9 / m.Events : 0;
            string line = string.Create(inv,
                $"{m.Name,-10} {m.Events,11:N0} {nsPerCall,8:F0} {plain,10:F3} {Median(m.Recorded.Seconds),9:F3} " +
                $"{ratio,7:F3}x ({ratios.Min(),5:F2}..{ratios.Max(),5:F2})");
            if (m.Heaptrack is not null)
            {
                line += string.Create(inv, $" {Median(m.Heaptrack.Seconds),9:F3} {Median(PerRound(m.Heaptrack, m.Plain)),7:F2}x");
            }
            else if (heap)
            {
                line += $" {"",9} {"",8}";
            }

            line += string.Create(inv, $" {m.RawBytesPerEvent,8:F2} {m.PackedBytesPerEvent,7:F2}");
            if (m.Stacked is not null)
            {
                List<double> stackRatios = PerRound(m.Stacked, m.Plain);
                line += string.Create(inv,
                    $" {Median(m.Stacked.Seconds),9:F3} {Median(stackRatios),7:F3}x ({stackRatios.Min(),5:F2}..{stackRatios.Max(),5:F2}) " +
                    $"{m.StackedBytesPerEvent,6:F2} {m.Stacks,8:N0}");
            }

            Console.WriteLine(line + (m.Processes > 1 ? $"  ({m.Processes} processes)" : ""));
        }

        Console.WriteLine(string.Create(inv,
            $"target: ptrecord at most {Target:F2}x the unrecorded run: met on {met} of {results.Count} program(s)"));
    }

    private static List<double> PerRound(Variant v, Variant baseline) =>
        v.Seconds.Zip(baseline.Seconds, (a, b) => a / b).ToList();

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
