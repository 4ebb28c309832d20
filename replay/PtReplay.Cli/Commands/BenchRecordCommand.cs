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
/// the program-only ratio takes the default variant's program time as `record` measured it (start to exit), and a line
/// per program splits both `record` variants' medians into ptreplay's start-up and exit, the program, and after its exit.
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
        var stacks = new Option<string?>("--stacks")
        {
            Description = "Also measure `record --stacks[=DEPTH]` end to end (call stacks; DEPTH 1..128, default " +
                          $"{RecordingOptions.DefaultStackDepth}) as a variant of its own in every round, beside heaptrack (which " +
                          "records stacks too), with its trace's bytes per event and distinct stacks.",
            Arity = ArgumentArity.ZeroOrOne,
            HelpName = "DEPTH",
        };
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
            "per event, raw and packed. A line per program then splits the time of `record` and of `record --raw` into ptreplay's " +
            "start-up and exit, the program (and its ratio), and ptreplay's work after the program exited. Programs' output is " +
            "discarded.\n\n" +
            "Bundled workloads (heaptrack follows only the first process of a program that starts others, e.g. gcc; their files " +
            "are found under traces/workloads above ptreplay's folder or the working directory):\n" +
            string.Concat(BundledWorkloads.Names.Select(n => $"  {n,-8} {BundledWorkloads.Describe(n)}\n")) + "\n" +
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

    /// <summary>One variant's runs: wall time end to end; for `record` variants also the program's own time and ptreplay's time after the program exited (as `record` measured them).</summary>
    private sealed record Variant(string Name, List<double> Seconds)
    {
        public List<double> Program { get; } = [];

        public List<double> AfterExit { get; } = [];

        /// <summary>CPU time (user + system) of each run's whole process tree, ptreplay's included (<see cref="ChildCpuTime"/>).</summary>
        public List<double> Cpu { get; } = [];

        /// <summary>`record` variants: CPU time of the traced program's processes, as `record` measured it.</summary>
        public List<double> ProgramCpu { get; } = [];

        /// <summary>`record` variants: ptreplay's own CPU time (start-up, the packer, after exit).</summary>
        public List<double> OwnCpu { get; } = [];
    }

    /// <summary>What one program measured; the trace figures cover its child processes' traces too.</summary>
    private sealed record Measured(string Name, Variant Plain, Variant Raw, Variant Record, Variant? Heaptrack,
        long Events, int Processes, double RawBytesPerEvent, double PackedBytesPerEvent)
    {
        /// <summary>`record --stacks=N` end to end, when measured.</summary>
        public Variant? Stacked { get; init; }

        /// <summary>Bytes per event of the --stacks trace (packed, stack tables included).</summary>
        public double StackedBytesPerEvent { get; init; }

        /// <summary>Distinct call stacks in the --stacks trace, its children's included.</summary>
        public int Stacks { get; init; }
    }

    /// <summary>How to start this very ptreplay as a program (the apphost, or dotnet and the assembly).</summary>
    private static string[] Self()
    {
        string host = Environment.ProcessPath ?? "dotnet";
        string name = Path.GetFileNameWithoutExtension(host);
        return name == "ptreplay" ? [host]
            : [name == "dotnet" ? host : "dotnet", typeof(BenchRecordCommand).Assembly.Location]; // e.g. inside a test host
    }

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
        string rawTrace = Path.Combine(work, "raw.trace");
        string packedTrace = Path.Combine(work, "packed.trace");
        string programTime = Path.Combine(work, "program-time");
        string stackTrace = Path.Combine(work, "stacks.trace");
        var stacked = new Variant(string.Create(CultureInfo.InvariantCulture, $"record --stacks={stackDepth}"), []);
        var plain = new Variant("unrecorded", []);
        var raw = new Variant("record --raw", []);
        var record = new Variant("record", []);
        var heap = new Variant("heaptrack", []);
        int expectedExit = int.MinValue;
        Variant[] variants = heaptrack is not null ? [plain, raw, record, heap] : [plain, raw, record];
        if (stackDepth > 0)
        {
            variants = [.. variants, stacked];
        }

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
                        : v == stacked ? [.. self, "record", string.Create(CultureInfo.InvariantCulture, $"--stacks={stackDepth}"), "-o", stackTrace, "--", .. w.Command]
                        : [.. w.Command];
                    var environment = new Dictionary<string, string?>(w.Environment);
                    bool timed = v == record || v == raw;
                    if (timed)
                    {
                        environment[RecordCommand.ProgramTimeVariable] = programTime;
                        File.Delete(programTime);
                    }

                    double cpuBefore = ChildCpuTime.Seconds();
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
                    v.Cpu.Add(ChildCpuTime.Seconds() - cpuBefore);
                    if (timed)
                    {
                        string[] times = File.ReadAllText(programTime).Split(' ');
                        v.Program.Add(double.Parse(times[0], CultureInfo.InvariantCulture));
                        v.AfterExit.Add(double.Parse(times[1], CultureInfo.InvariantCulture));
                        v.ProgramCpu.Add(double.Parse(times[2], CultureInfo.InvariantCulture));
                        v.OwnCpu.Add(double.Parse(times[3], CultureInfo.InvariantCulture));
                    }
                }
            }

            progress.Finish();
            (long events, long rawBytes, int processes) = Sizes(rawTrace);
            (_, long packedBytes, _) = Sizes(packedTrace);
            var measured = new Measured(w.Name, plain, raw, record, heaptrack is null ? null : heap, events, processes,
                events == 0 ? 0 : (double)rawBytes / events, events == 0 ? 0 : (double)packedBytes / events);
            if (stackDepth == 0)
            {
                return measured;
            }

            (long stackedEvents, long stackedBytes, _) = Sizes(stackTrace);
            int stackCount = 0;
            foreach (string file in (IReadOnlyList<string>)[stackTrace, .. Recorder.FindChildTraces(stackTrace)])
            {
                using TraceReader reader = TraceReader.Open(file);
                stackCount += reader.Stacks.Count;
            }

            return measured with
            {
                Stacked = stacked,
                StackedBytesPerEvent = stackedEvents == 0 ? 0 : (double)stackedBytes / stackedEvents,
                Stacks = stackCount,
            };
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
        bool stacks = results.Any(r => r.Stacked is not null);
        Console.WriteLine($"{repeat} round(s) per program, one run of each variant per round; wall time in seconds; " +
                          "ratio = median of the per-round ratios to the unrecorded run (record: lowest..highest); raw and record: " +
                          "`ptreplay record [--raw]` end to end; program: the traced program's own time under record; events and bytes: " +
                          "every process the program started included");
        Console.WriteLine($"{"program",-10} {"events",11} {"ns/call",7} {"unrecorded",10} {"raw",7} {"ratio",6} {"record",7} {"ratio",20} {"program",8}" +
                          (heap ? $" {"heaptrack",9} {"ratio",7}" : "") + $" {"raw B/ev",8} {"packed",6}" +
                          (stacks ? $" {"--stacks",9} {"ratio",21} {"B/ev",6} {"stacks",8}" : ""));
        int met = 0, programMet = 0;
        foreach (Measured m in results)
        {
            double plain = Median(m.Plain.Seconds);
            List<double> ratios = PerRound(m.Record, m.Plain);
            double ratio = Median(ratios);
            double programRatio = Median(PerRound(m.Record.Program, m.Plain.Seconds));
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

            line += string.Create(inv, $" {m.RawBytesPerEvent,8:F2} {m.PackedBytesPerEvent,6:F2}");
            if (m.Stacked is not null)
            {
                List<double> stackRatios = PerRound(m.Stacked, m.Plain);
                line += string.Create(inv,
                    $" {Median(m.Stacked.Seconds),9:F3} {Median(stackRatios),7:F3}x ({stackRatios.Min(),5:F2}..{stackRatios.Max(),5:F2}) " +
                    $"{m.StackedBytesPerEvent,6:F2} {m.Stacks,8:N0}");
            }

            Console.WriteLine(line + (m.Processes > 1 ? $"  ({m.Processes} processes)" : ""));
        }

        foreach (Measured m in results)
        {
            Console.WriteLine(string.Create(inv, $"{m.Name}: where the time goes (medians) {Breakdown(m.Record, m.Plain)}; {Breakdown(m.Raw, m.Plain)}"));
            IEnumerable<Variant> timed = new[] { m.Raw, m.Record, m.Heaptrack, m.Stacked }.OfType<Variant>();
            Console.WriteLine(string.Create(inv, $"{m.Name}: CPU time, user + system of every process of the run, ptreplay's included (medians; ratio: median of the per-round ratios): " +
                $"unrecorded {Median(m.Plain.Cpu):F3} s, ") +
                string.Join(", ", timed.Select(v => string.Create(inv, $"{v.Name} {Median(v.Cpu):F3} s ({Median(PerRound(v.Cpu, m.Plain.Cpu)):F3}x)"))) +
                string.Concat(new[] { m.Record, m.Raw }.Select(v => string.Create(inv,
                    $"; {v.Name}: the program {Median(v.ProgramCpu):F3} s ({Median(PerRound(v.ProgramCpu, m.Plain.Cpu)):F3}x), ptreplay {Median(v.OwnCpu):F3} s"))));
        }

        Console.WriteLine(string.Create(inv,
            $"target: record end to end at most {Target:F2}x the unrecorded run: met on {met} of {results.Count} program(s); " +
            $"the program under record at most {ProgramTarget:F2}x: met on {programMet} of {results.Count}"));
    }

    /// <summary>
    /// A `record` variant's time in three parts: ptreplay before the program started and its own exit (end to end less
    /// the other two), the program (with its ratio to the unrecorded run), and ptreplay after the program exited.
    /// </summary>
    private static string Breakdown(Variant v, Variant plain)
    {
        List<double> before = v.Seconds.Zip(v.Program, v.AfterExit).Select(t => t.First - t.Second - t.Third).ToList();
        return string.Create(CultureInfo.InvariantCulture,
            $"{v.Name}: ptreplay's start-up and exit {Median(before):F3} s, the program {Median(v.Program):F3} s " +
            $"({Median(PerRound(v.Program, plain.Seconds)):F3}x), after the program exited {Median(v.AfterExit):F3} s");
    }

    private static List<double> PerRound(Variant v, Variant baseline) => PerRound(v.Seconds, baseline.Seconds);

    private static List<double> PerRound(List<double> seconds, List<double> baseline) =>
        seconds.Zip(baseline, (a, b) => a / b).ToList();

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
