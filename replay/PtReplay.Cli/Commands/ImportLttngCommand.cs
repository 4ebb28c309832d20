using System.CommandLine;
using System.Globalization;
using PtReplay.Traces.Import;

namespace PtReplay.Cli.Commands;

/// <summary>`ptreplay import-lttng TRACE_DIR -o OUT`: converts a trace of LTTng-UST's libc wrapper into PtReplay traces.</summary>
public static class ImportLttngCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var input = new Argument<string>("trace-dir")
        {
            Description = "The folder LTTng wrote the trace to (`lttng create --output=DIR`; searched recursively for " +
                "user-space CTF traces).",
        };
        var output = new Option<string>("--output", "-o") { Description = "The trace to write (other processes: OUT.<vpid>).", Required = true };
        var verb = new Command("import-lttng",
            "Convert a trace of LTTng-UST's libc wrapper (liblttng-ust-libc-wrapper.so) into a PtReplay trace, so " +
            "allocation streams captured with LTTng can be inspected and replayed.\n\n" +
            "Record one (Debian: apt-get install lttng-tools liblttng-ust-dev; user space only, no kernel modules):\n" +
            "  lttng-sessiond --daemonize                   # or let `lttng create` start it\n" +
            "  lttng create app --output=/tmp/app-lttng\n" +
            "  lttng enable-channel -u --blocking-timeout=inf --subbuf-size=8M channel0   # wait instead of dropping events\n" +
            "  lttng enable-event -u -c channel0 'lttng_ust_libc:*'\n" +
            $"  {LttngCtfReader.AddContextCommand} -c channel0   # REQUIRED: threads, processes, and procname for the reader\n" +
            "  lttng start\n" +
            "  LTTNG_UST_ALLOW_BLOCKING=1 LD_PRELOAD=liblttng-ust-libc-wrapper.so ./app   # .so.1 with liblttng-ust1 alone\n" +
            "  lttng stop; lttng destroy app\n" +
            "  ptreplay import-lttng /tmp/app-lttng -o app.trace\n\n" +
            "The CTF trace is read by TraceEvent's CTF reader, which needs two things of the recording: the channel keeps " +
            "LTTng's default name (channel0, as above, or no enable-channel at all: files channel0_N), and an event " +
            "context, if any, includes procname (vtid and vpid alone make it fail; import-lttng checks both first and " +
            "says so). Nothing else (no babeltrace2) is needed to import.\n\n" +
            "What maps to what: lttng_ust_libc:malloc, calloc, realloc, free, memalign and posix_memalign become the same " +
            "calls with their arguments and results (posix_memalign: status = its return value). The vtid context is the " +
            "thread (without it every event is one thread); the vpid context is the process: the process with the " +
            "earliest event goes to OUT, each other one to OUT.<vpid> (without vpid everything is one process). " +
            "Timestamps are ns since the process's first event, on LTTng's monotonic clock.\n\n" +
            "What is lost: aligned_alloc, valloc, pvalloc and reallocarray (the wrapper has no event for them, so their " +
            "blocks are later freed without an allocation; the output says so), every call before the program " +
            "registered with the session daemon, calls made inside another traced call, thread start/exit and fork/exec " +
            "markers, errno, and everything the recorder's header knows (glibc version, brk0, argv). Events the tracer " +
            "discarded when its buffers were full are reported as a warning (use the blocking channel above to avoid " +
            "them). `ptreplay record` captures all of this; use import-lttng when a trace from LTTng is what you have.\n\n" +
            "Example:\n" +
            "  ptreplay import-lttng /tmp/app-lttng -o app.trace && ptreplay info app.trace\n\n" +
            "Output (stderr): one line per trace written (events, threads, pid), a note on the calls the wrapper cannot " +
            "trace, warnings for discarded events and a missing vtid context. A missing folder, a folder with no libc " +
            "events, a trace recorded without procname or with a renamed channel, or a damaged file fail with a message " +
            "that names it (and the byte offset or event index).\n" +
            ExitCodes.Help)
        {
            input, output,
        };
        verb.SetAction(CliErrors.Guard("import-lttng", parse =>
        {
            string inPath = parse.GetValue(input)!;
            string outPath = CliPaths.OutputFile(parse.GetValue(output)!);
            LttngImportResult result;
            using (var progress = new ProgressDisplay())
            {
                result = LttngImporter.Import(inPath, outPath, progress.For("import-lttng"));
            }

            Report(result, inPath);
            return ExitCodes.Ok;
        }));
        return verb;
    }

    private static void Report(LttngImportResult result, string inPath)
    {
        CultureInfo inv = CultureInfo.InvariantCulture;
        foreach (LttngImportedProcess p in result.Processes)
        {
            string pid = p.Pid > 0 ? string.Create(inv, $", pid {p.Pid}") : "";
            Console.Error.WriteLine(string.Create(inv, $"ptreplay import-lttng: {p.Path}: {p.Events:N0} events, {p.Threads} thread(s){pid} from {inPath}"));
        }

        if (result.OtherEvents > 0)
        {
            Console.Error.WriteLine(string.Create(inv, $"ptreplay import-lttng: skipped {result.OtherEvents:N0} events of other providers"));
        }

        Console.Error.WriteLine($"ptreplay import-lttng: note: the trace cannot contain {string.Join(", ", LttngImporter.UntracedCalls)} " +
            "(LTTng's libc wrapper does not trace them): blocks they returned show up as frees of unknown blocks");

        if (!result.HasVtid)
        {
            Console.Error.WriteLine("ptreplay import-lttng: warning: no vtid context: every event is put in one thread " +
                $"(record with `{LttngCtfReader.AddContextCommand}`)");
        }

        if (result.DiscardedEvents > 0 || result.LostPackets > 0)
        {
            string counts = string.Create(inv, $"{result.DiscardedEvents:N0} events and lost {result.LostPackets:N0} packets");
            Console.Error.WriteLine($"ptreplay import-lttng: warning: the tracer discarded {counts}: " +
                "the trace misses calls (frees of unknown blocks follow). Record with a blocking channel " +
                "(`lttng enable-channel -u --blocking-timeout=inf ...` and LTTNG_UST_ALLOW_BLOCKING=1) or larger buffers.");
        }
    }
}
