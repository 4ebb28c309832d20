using System.CommandLine;
using PtReplay.Traces.Packing;
using PtReplay.Traces.Recording;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay record -o OUT [--no-follow] [--raw] [--stacks[=DEPTH]] (-w WORKLOAD | -- CMD ARGS...)`: runs a program (or a bundled
/// workload) under the LD_PRELOAD recorder, passes its stdin/stdout/stderr through, and exits with its exit code.
/// </summary>
public static class RecordCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "Trace file of the started program. Children (fork, exec) write OUT.<pid> beside it.",
            Required = true,
        };
        var noFollow = new Option<bool>("--no-follow")
        {
            Description = "Do not trace child processes (forked or exec'd); only the started program is recorded.",
        };
        var raw = new Option<bool>("--raw")
        {
            Description = "Keep the recorder's raw per-thread blocks instead of packing them (larger). Without it, the blocks " +
                          "are compressed while the program runs, by ptreplay on another CPU, and what is left when it exits after.",
        };
        var stacks = new Option<string?>("--stacks")
        {
            Description = $"Record the call stack of every allocating call, at most DEPTH frames (--stacks=DEPTH, " +
                          $"1..{RecordingOptions.MaxStackDepth}; --stacks alone: {RecordingOptions.DefaultStackDepth}), and the " +
                          "program's module map (executable mappings with paths and build ids), so the trace can say later which " +
                          "code allocated what. Cost: about 1 us per allocating call on top of the recorder (python3: 3.0x the " +
                          "unrecorded run where heaptrack takes 4.2x; README \"Call stacks\"), nearly the same up to DEPTH 24, and " +
                          "1-2 bytes per event. Unwinds with libunwind (libunwind8) where installed, else libgcc. Without the " +
                          "option the recorder's cost is unchanged.",
            Arity = ArgumentArity.ZeroOrOne,
            HelpName = "DEPTH",
        };
        var waitChildren = new Option<double>("--wait-children")
        {
            Description = "When the started program exits while processes it started are still recording (a background job, a " +
                          "daemon), wait for them at most SECONDS (default " +
                          $"{RecordingOptions.DefaultChildrenGrace.TotalSeconds:0}; 0: do not wait). Those still running then are " +
                          "listed: their traces are incomplete and left raw (they go on writing them).",
            DefaultValueFactory = _ => RecordingOptions.DefaultChildrenGrace.TotalSeconds,
            HelpName = "SECONDS",
        };
        var workload = new Option<string>("--workload", "-w")
        {
            Description = $"Record a bundled workload instead of a command: {string.Join(", ", BundledWorkloads.Names)} " +
                          "(with the settings that make its heap use repeat; see `ptreplay bench-record --help`).",
        };
        var command = new Argument<string[]>("command")
        {
            Description = "The program to run and its arguments (put them after --).",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var verb = new Command("record",
            "Run a program under the recorder (LD_PRELOAD libptrecord.so): every malloc, calloc, realloc, " +
            "reallocarray, free, memalign, posix_memalign, aligned_alloc, valloc and pvalloc call of every " +
            "thread, with the exact addresses glibc returned. The program's input and output pass through " +
            "unchanged and its exit code becomes ptreplay's. SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to ptreplay go on to " +
            "the program (those a terminal sends reach it directly), and ptreplay still packs and summarises what was " +
            "recorded: the trace of a program a signal ended reads as truncated, with every event written before. A one-line summary goes to stderr, then, when the program " +
            "forked or exec'd, the tree of traces: each with how it began (fork at which parent event, exec), pid, " +
            "events and command line. Programs that ran without the recorder (statically linked, set-user-ID to another user, " +
            "started with a cleared environment) are listed after it with the reason: none of their calls are recorded. " +
            "mallopt and malloc_trim are recorded too, and replayed where the program made them. " +
            "OUT holds the started program (`-- env X=1 prog`: env; prog is OUT.<pid>).\n\n" +
            "Multi-threaded programs: once a second thread starts, every event reads the clock behind a fence and the trace " +
            "is merged by timestamp (format version 2). PTRECORD_MT_CLOCK=adaptive in the environment keeps every thread on " +
            "the cheap single-thread clock instead (less CPU while recording) and writes format version 5, whose reader " +
            "orders the threads' events by each thread's own order and the address lifecycles (traces/FORMAT.md \"Order\"); " +
            "some free-running lock-free recordings do not yet read whole that way.\n\n" +
            "Examples:\n" +
            "  PYTHONMALLOC=malloc ptreplay record -o py.trace -- python3 app.py\n" +
            "  ptreplay record -o sort.trace --no-follow -- sort big.txt\n" +
            "  ptreplay record -o app.trace --stacks=32 -- ./app   (then `ptreplay info app.trace` counts its stacks)\n" +
            "  ptreplay record -o sqlite.trace -w sqlite\n\n" +
            "Exit codes: the program's own (128+N when signal N killed it), except 2 when the arguments are wrong, 4 when " +
            "the trace cannot be written (checked before the program starts: a missing folder that cannot be created, a " +
            "read-only folder) or when events were lost because the disk filled up, the file size limit was reached or a " +
            "signal handler made more than 1,048,576 calls while the recorder it interrupted waited, while the program ran (the trace then holds every event before, and says how many are missing), and 5 when " +
            "the program could not be started. The other verbs: " + ExitCodes.Help)
        {
            output, noFollow, raw, stacks, waitChildren, workload, command,
        };
        verb.SetAction(CliErrors.Guard("record", parse =>
        {
            string[] cmd = parse.GetValue(command) ?? [];
            string? name = parse.GetValue(workload);
            if ((name is null) == (cmd.Length == 0))
            {
                throw CliException.Usage("give either a command after -- or a bundled workload (-w NAME), not both or neither.");
            }

            BundledWorkload? w = null;
            if (name is not null)
            {
                try
                {
                    w = BundledWorkloads.Get(name);
                }
                catch (Exception e) when (e is ArgumentException or IOException)
                {
                    throw CliException.Usage(e.Message);
                }
            }

            double wait = parse.GetValue(waitChildren);
            if (!double.IsFinite(wait) || wait < 0 || wait > 86_400)
            {
                throw CliException.Usage($"--wait-children {wait}: give a number of seconds from 0 to 86400.");
            }

            int depth = StackDepth(parse.GetResult(stacks) is not null, parse.GetValue(stacks));
            var options = new RecordingOptions
            {
                StackDepth = depth,
                Command = w?.Command ?? cmd,
                ExtraEnvironment = w?.Environment,
                StandardInput = w?.StandardInput,
                OutputPath = CliPaths.OutputFile(parse.GetValue(output)!),
                FollowChildren = !parse.GetValue(noFollow),
                ChildrenGrace = TimeSpan.FromSeconds(wait),
            };
            return Run(options, packTrace: !parse.GetValue(raw));
        }));
        return verb;
    }

    /// <summary>The stack depth `--stacks[=DEPTH]` asks for: 0 when absent, the default when given without a value.</summary>
    internal static int StackDepth(bool given, string? value)
    {
        if (!given)
        {
            return 0;
        }

        if (string.IsNullOrEmpty(value))
        {
            return RecordingOptions.DefaultStackDepth;
        }

        if (!int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int depth)
            || depth < 1 || depth > RecordingOptions.MaxStackDepth)
        {
            throw CliException.Usage($"--stacks={value}: the stack depth must be a whole number of frames from 1 to {RecordingOptions.MaxStackDepth}.");
        }

        return depth;
    }

    private static int Run(RecordingOptions options, bool packTrace)
    {
        RecordingResult? result = null;
        var afterExit = new System.Diagnostics.Stopwatch();
        double programCpu = double.NaN;
        bool timed = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(ProgramTimeVariable));
        int code = Run(options, packTrace, r =>
        {
            result = r;
            afterExit.Start();
            programCpu = timed ? ChildCpuTime.Seconds() : double.NaN;
        });
        if (result is not null && timed)
        {
            WriteTimes(result, afterExit.Elapsed, programCpu, ChildCpuTime.OwnSeconds());
        }

        return code;
    }

    private static int Run(RecordingOptions options, bool packTrace, Action<RecordingResult> exited)
    {
        RecordingResult result;
        // SIGINT, SIGTERM, SIGHUP, SIGQUIT go on to the program; ptreplay stays to pack and summarise the trace.
        using var signals = new SignalForwarding();
        // Packing runs while the program does, on another CPU, from the moment it starts (after the old traces are gone).
        OnlinePacker? packer = null;
        try
        {
            result = Recorder.Run(new RecordingOptions
            {
                Command = options.Command,
                ExtraEnvironment = options.ExtraEnvironment,
                StandardInput = options.StandardInput,
                OutputPath = options.OutputPath,
                FollowChildren = options.FollowChildren,
                StackDepth = options.StackDepth,
                ChildrenGrace = options.ChildrenGrace,
                WaitingForChildren = pids => Console.Error.WriteLine(
                    $"ptreplay record: the program exited; waiting up to {options.ChildrenGrace.TotalSeconds:0.#} s for " +
                    $"{pids.Count} process{(pids.Count == 1 ? "" : "es")} it started that still record{(pids.Count == 1 ? "s" : "")} " +
                    $"(pid {string.Join(", ", pids)}; --wait-children SECONDS changes the wait)"),
                Started = pid =>
                {
                    signals.Started(pid);
                    packer = packTrace ? OnlinePacker.Start(options.OutputPath) : null;
                },
            });
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or FileNotFoundException or InvalidOperationException)
        {
            packer?.Dispose();
            Console.Error.WriteLine($"ptreplay record: cannot run '{options.Command[0]}': {e.Message}");
            return ExitCodes.CannotRun;
        }

        exited(result);

        if (signals.LastForwarded != 0)
        {
            Console.Error.WriteLine($"ptreplay record: passed {SignalForwarding.Name(signals.LastForwarded)} on to the program; " +
                                    "the trace holds what it recorded until then");
        }

        long lost = 0;
        try
        {
            Console.Error.WriteLine(RecordingReport.Finish(result, packer, out lost));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            packer?.Dispose();
            Console.Error.WriteLine($"ptreplay record: the program ran, but its trace could not be packed or summarised " +
                                    $"(the raw trace is kept): {e.Message}");
        }

        if (lost > 0)
        {
            Console.Error.WriteLine($"ptreplay record: {lost:N0} events were lost (the disk filled up, the file size limit was reached, or a signal handler made more than 1,048,576 calls while the recorder it interrupted waited); " +
                                    $"the program exited {result.ExitCode}");
            return ExitCodes.OutputFailed;
        }

        return result.ExitCode;
    }

    /// <summary>
    /// The environment variable naming a file to which `record` writes, when it is done, four times in seconds: the
    /// program's own wall time (start to exit, without ptreplay's start-up and packing after exit), ptreplay's own time
    /// after the program exited (packing what was left, the summary), the CPU time (user + system) of the program and
    /// the processes it waited for, and ptreplay's own CPU time (the packer's included). What `bench-record` reads.
    /// </summary>
    public const string ProgramTimeVariable = "PTREPLAY_RECORD_PROGRAM_TIME";

    private static void WriteTimes(RecordingResult result, TimeSpan afterExit, double programCpu, double ownCpu)
    {
        string file = Environment.GetEnvironmentVariable(ProgramTimeVariable)!;
        File.WriteAllText(file, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{result.WallTime.TotalSeconds:R} {afterExit.TotalSeconds:R} {programCpu:R} {ownCpu:R}"));
    }
}
