using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay bench-record [--repeat N] [--no-heaptrack] [-- CMD ARGS...]`: the recorder's overhead.
/// Runs the program unrecorded, recorded and under heaptrack, alternating, and prints median wall
/// times, ratios to the unrecorded run, and trace bytes per event (raw and packed).
/// </summary>
public static class BenchRecordCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var repeat = new Option<int>("--repeat", "-n")
        {
            Description = "Repetitions of each variant (they alternate, so drift affects all alike).",
            DefaultValueFactory = _ => 5,
        };
        var noHeaptrack = new Option<bool>("--no-heaptrack") { Description = "Skip the heaptrack runs." };
        var command = new Argument<string[]>("command")
        {
            Description = "Program to measure (after --). Default: the bundled allocation-heavy Python workload " +
                          "(python3 traces/workloads/python_work.py 40, PYTHONMALLOC=malloc PYTHONHASHSEED=0).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verb = new Command("bench-record",
            "Measure the recorder's overhead: wall time of the program unrecorded, recorded (raw trace) and under " +
            "heaptrack (if installed), alternating runs, medians and ratios; plus bytes per event of the raw and the " +
            "packed trace. The program's output is discarded.\n\n" +
            "Examples:\n" +
            "  ptreplay bench-record\n" +
            "  ptreplay bench-record -n 3 -- /usr/bin/perl traces/workloads/perl_work.pl 30\n\n" +
            "Exit codes: 0 done; 1 a run failed (its exit code differs from the unrecorded one).")
        {
            repeat, noHeaptrack, command,
        };
        verb.SetAction(parse => Run(parse.GetValue(command) ?? [], Math.Max(1, parse.GetValue(repeat)), !parse.GetValue(noHeaptrack)));
        return verb;
    }

    private sealed record Variant(string Name, List<double> Seconds);

    private static int Run(string[] command, int repeat, bool withHeaptrack)
    {
        var extraEnv = new Dictionary<string, string?>();
        if (command.Length == 0)
        {
            string script = FindWorkload("python_work.py");
            command = ["/usr/bin/python3", script, "40"];
            extraEnv["PYTHONMALLOC"] = "malloc";
            extraEnv["PYTHONHASHSEED"] = "0";
        }

        string heaptrack = "/usr/bin/heaptrack";
        withHeaptrack &= File.Exists(heaptrack);
        string work = Directory.CreateTempSubdirectory("ptreplay-bench-").FullName;
        string trace = Path.Combine(work, "bench.trace");
        var plain = new Variant("unrecorded", []);
        var recorded = new Variant("ptrecord", []);
        var heap = new Variant("heaptrack", []);
        int expectedExit = int.MinValue;
        try
        {
            for (int i = 0; i < repeat; i++)
            {
                foreach (Variant v in withHeaptrack ? new[] { plain, recorded, heap } : [plain, recorded])
                {
                    Console.Error.Write($"\rbench-record: run {i + 1}/{repeat}, {v.Name}...          ");
                    string[] cmd = v == heap ? [heaptrack, "-o", Path.Combine(work, "ht.%p"), .. command] : command;
                    RecordingResult r = Recorder.Run(new RecordingOptions
                    {
                        Command = cmd,
                        Record = v == recorded,
                        OutputPath = trace,
                        ExtraEnvironment = extraEnv,
                        CaptureOutput = true,
                    });
                    if (v == plain)
                    {
                        expectedExit = expectedExit == int.MinValue ? r.ExitCode : expectedExit;
                    }

                    if (r.ExitCode != expectedExit)
                    {
                        Console.Error.WriteLine($"\nbench-record: the {v.Name} run exited with {r.ExitCode}, the unrecorded one with {expectedExit}: " +
                                                System.Text.Encoding.UTF8.GetString(r.StandardError));
                        return 1;
                    }

                    v.Seconds.Add(r.WallTime.TotalSeconds);
                }
            }

            Console.Error.WriteLine();
            RecordingSummary raw = RecordingSummary.Of(trace);
            PackResult packed = TracePacker.Pack(trace, trace);
            Print(command, plain, withHeaptrack ? [recorded, heap] : [recorded], raw, packed.BytesPerEvent);
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void Print(string[] command, Variant baseline, Variant[] others, RecordingSummary raw, double packedBytesPerEvent)
    {
        var inv = CultureInfo.InvariantCulture;
        double b = Median(baseline.Seconds), bMin = baseline.Seconds.Min();
        Console.WriteLine($"program: {string.Join(' ', command)}");
        Console.WriteLine($"runs: {baseline.Seconds.Count} of each, alternating; wall time in seconds (ratio: of medians; min ratio: of fastest runs)");
        Console.WriteLine($"{"variant",-12} {"median",8} {"min",8} {"max",8} {"ratio",7} {"min ratio",9}");
        foreach (Variant v in others.Prepend(baseline))
        {
            Console.WriteLine(string.Create(inv,
                $"{v.Name,-12} {Median(v.Seconds),8:F3} {v.Seconds.Min(),8:F3} {v.Seconds.Max(),8:F3} {Median(v.Seconds) / b,6:F2}x {v.Seconds.Min() / bMin,8:F2}x"));
        }

        Console.WriteLine(string.Create(inv,
            $"trace: {raw.Events:N0} events, {raw.Threads} thread(s); raw {raw.BytesPerEvent:F2} bytes/event, packed {packedBytesPerEvent:F2} bytes/event"));
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary>A bundled workload file (traces/workloads/NAME), searched upwards from the program's folder.</summary>
    private static string FindWorkload(string name)
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "traces", "workloads", name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException($"Bundled workload {name} not found above {AppContext.BaseDirectory}; pass a command after --.");
    }
}
