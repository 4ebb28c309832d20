using System.CommandLine;
using System.Globalization;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay bench-record [-w NAME]... [-n N] [--no-heaptrack] [-- CMD ARGS...]`: the recorder's overhead.
/// For each program (by default every bundled workload), runs it unrecorded, under `ptreplay record --raw`, under
/// `ptreplay record` (packed, the default) and under heaptrack in rounds (one run of each variant per round, so drift
/// of a shared machine hits all alike), and prints median wall times, the medians of the per-round ratios to the
/// unrecorded run, and trace bytes per event (raw and packed). The two `record` variants run the `ptreplay` CLI as a
/// user does, so their times are end to end: ptreplay's start-up, the program, and the packing left after it exits;
/// the program-only ratio takes the default variant's program time as `record` measured it (start to exit).
/// </summary>
public static class BenchRecordCommand
{
    /// <summary>The recorder's overhead target: `record`, end to end (packed trace on disk), at most this times the unrecorded run.</summary>
    public const double Target = 1.15;

    /// <summary>The target for the traced program itself under `record` (its own exit time).</summary>
    public const double ProgramTarget = 1.08;

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
        var command = new Argument<string[]>("command")
        {
            Description = "A program of your own to measure instead (after --); its environment is yours.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verb = new Command("bench-record",
            "Measure the recorder's overhead on real programs: each runs unrecorded, under `ptreplay record --raw`, under " +
            "`ptreplay record` (the default: packed while it runs) and under heaptrack (if installed) in rounds, and the table " +
            "shows median wall times and the medians of the per-round ratios to the unrecorded run: `raw` and `record` end to " +
            "end (ptreplay started as a user starts it, until the trace is on disk; target for `record`: at most " +
            $"{Target.ToString("F2", CultureInfo.InvariantCulture)}x), `program` the traced program's own time under `record`, " +
            $"start to exit (target: at most {ProgramTarget.ToString("F2", CultureInfo.InvariantCulture)}x), and the trace's bytes " +
            "per event, raw and packed. Programs' output is discarded.\n\n" +
            "Bundled workloads (heaptrack follows only the first process of a program that starts others, e.g. gcc):\n" +
            string.Concat(BundledWorkloads.Names.Select(n => $"  {n,-8} {Describe(n)}\n")) + "\n" +
            "Examples:\n" +
            "  ptreplay bench-record                       every bundled workload, 5 rounds\n" +
            "  ptreplay bench-record -w python -n 15       the densest one, 15 rounds\n" +
            "  ptreplay bench-record -n 3 -- /usr/bin/perl traces/workloads/perl_work.pl 30\n\n" +
            "A run whose exit code differs from the unrecorded one's exits 1.\n" + ExitCodes.Help)
        {
            repeat, workloads, noHeaptrack, command,
        };
        verb.SetAction(CliErrors.Guard("bench-record", parse => Run(parse.GetValue(command) ?? [], parse.GetValue(workloads) ?? [],
            Math.Max(1, parse.GetValue(repeat)), !parse.GetValue(noHeaptrack))));
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
    private sealed record Measured(string Name, Variant Plain, Variant Raw, Variant Record, Variant ProgramOnly, Variant? Heaptrack,
        long Events, int Processes, double RawBytesPerEvent, double PackedBytesPerEvent);

    /// <summary>How to start this very ptreplay as a program (the apphost, or dotnet and the assembly).</summary>
    private static string[] Self()
    {
        string host = Environment.ProcessPath ?? "dotnet";
        string name = Path.GetFileNameWithoutExtension(host);
        return name == "ptreplay" ? [host]
            : [name == "dotnet" ? host : "dotnet", typeof(BenchRecordCommand).Assembly.Location]; // e.g. inside a test host
    }

    private static int Run(string[] command, string[] workloadArgs, int repeat, bool withHeaptrack)
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
            Measured? m = Measure(w, repeat, withHeaptrack ? Heaptrack : null);
            if (m is null)
            {
                return ExitCodes.No;
            }

            results.Add(m);
        }

        Print(results, repeat);
        return 0;
    }

    private static Measured? Measure(BundledWorkload w, int repeat, string? heaptrack)
    {
        string work = Directory.CreateTempSubdirectory("ptreplay-bench-").FullName;
        string rawTrace = Path.Combine(work, "raw.trace");
        string packedTrace = Path.Combine(work, "packed.trace");
        string programTime = Path.Combine(work, "program-time");
        var plain = new Variant("unrecorded", []);
        var raw = new Variant("record --raw", []);
        var record = new Variant("record", []);
        var programOnly = new Variant("program", []);
        var heap = new Variant("heaptrack", []);
        int expectedExit = int.MinValue;
        Variant[] variants = heaptrack is not null ? [plain, raw, record, heap] : [plain, raw, record];
        string[] self = Self();
        var progress = new ProgressDisplay();
        int runs = 0;
        try
        {
            for (int i = 0; i < repeat; i++)
            {
                foreach (Variant v in variants)
                {
                    progress.Fraction(w.Name, (double)runs++ / (repeat * variants.Length));
                    string[] cmd = v == heap ? [heaptrack!, "-o", Path.Combine(work, "ht.%p"), .. w.Command]
                        : v == raw ? [.. self, "record", "--raw", "-o", rawTrace, "--", .. w.Command]
                        : v == record ? [.. self, "record", "-o", packedTrace, "--", .. w.Command]
                        : [.. w.Command];
                    var environment = new Dictionary<string, string?>(w.Environment);
                    if (v == record)
                    {
                        environment[RecordCommand.ProgramTimeVariable] = programTime;
                        File.Delete(programTime);
                    }

                    RecordingResult r = Recorder.Run(new RecordingOptions
                    {
                        Command = cmd,
                        Record = false,
                        ExtraEnvironment = environment,
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
                    if (v == record)
                    {
                        programOnly.Seconds.Add(double.Parse(File.ReadAllText(programTime), CultureInfo.InvariantCulture));
                    }
                }
            }

            progress.Finish();
            (long events, long rawBytes, int processes) = Sizes(rawTrace);
            (_, long packedBytes, _) = Sizes(packedTrace);
            return new Measured(w.Name, plain, raw, record, programOnly, heaptrack is null ? null : heap, events, processes,
                events == 0 ? 0 : (double)rawBytes / events, events == 0 ? 0 : (double)packedBytes / events);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Events, bytes and files of the last recording into <paramref name="trace"/>, its children's included.</summary>
    private static (long Events, long Bytes, int Files) Sizes(string trace)
    {
        long events = 0, bytes = 0;
        IReadOnlyList<string> files = [trace, .. Recorder.FindChildTraces(trace)];
        foreach (string file in files)
        {
            RecordingSummary s = RecordingSummary.Of(file);
            events += s.Events;
            bytes += s.FileBytes;
        }

        return (events, bytes, files.Count);
    }

    private static void Print(List<Measured> results, int repeat)
    {
        var inv = CultureInfo.InvariantCulture;
        bool heap = results.Any(r => r.Heaptrack is not null);
        Console.WriteLine($"{repeat} round(s) per program, one run of each variant per round; wall time in seconds; " +
                          "ratio = median of the per-round ratios to the unrecorded run (record: lowest..highest); raw and record: " +
                          "`ptreplay record [--raw]` end to end; program: the traced program's own time under record; events and bytes: " +
                          "every process the program started included");
        Console.WriteLine($"{"program",-10} {"events",11} {"ns/call",7} {"unrecorded",10} {"raw",7} {"ratio",6} {"record",7} {"ratio",20} {"program",8}" +
                          (heap ? $" {"heaptrack",9} {"ratio",7}" : "") + $" {"raw B/ev",8} {"packed",6}");
        int met = 0, programMet = 0;
        foreach (Measured m in results)
        {
            double plain = Median(m.Plain.Seconds);
            List<double> ratios = PerRound(m.Record, m.Plain);
            double ratio = Median(ratios);
            double programRatio = Median(PerRound(m.ProgramOnly, m.Plain));
            met += ratio <= Target ? 1 : 0;
            programMet += programRatio <= ProgramTarget ? 1 : 0;
            double nsPerCall = m.Events > 0 ? plain * 1e9 / m.Events : 0;
            string line = string.Create(inv,
                $"{m.Name,-10} {m.Events,11:N0} {nsPerCall,7:F0} {plain,10:F3} {Median(m.Raw.Seconds),7:F3} {Median(PerRound(m.Raw, m.Plain)),5:F3}x " +
                $"{Median(m.Record.Seconds),7:F3} {ratio,6:F3}x ({ratios.Min(),5:F2}..{ratios.Max(),5:F2}) {programRatio,7:F3}x");
            if (m.Heaptrack is not null)
            {
                line += string.Create(inv, $" {Median(m.Heaptrack.Seconds),9:F3} {Median(PerRound(m.Heaptrack, m.Plain)),6:F2}x");
            }
            else if (heap)
            {
                line += $" {"",9} {"",7}";
            }

            Console.WriteLine(line + string.Create(inv, $" {m.RawBytesPerEvent,8:F2} {m.PackedBytesPerEvent,6:F2}") +
                              (m.Processes > 1 ? $"  ({m.Processes} processes)" : ""));
        }

        Console.WriteLine(string.Create(inv,
            $"target: record end to end at most {Target:F2}x the unrecorded run: met on {met} of {results.Count} program(s); " +
            $"the program under record at most {ProgramTarget:F2}x: met on {programMet} of {results.Count}"));
    }

    private static List<double> PerRound(Variant v, Variant baseline) =>
        v.Seconds.Zip(baseline.Seconds, (a, b) => a / b).ToList();

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
