using System.CommandLine;
using System.Runtime.InteropServices;
using PtReplay.Traces.Recording;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay record -o OUT [--no-follow] [--raw] -- CMD ARGS...`: runs a program under the LD_PRELOAD
/// recorder, passes its stdin/stdout/stderr through, and exits with its exit code.
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
            Description = "Keep the recorder's raw per-thread blocks instead of packing them (faster, larger).",
        };
        var command = new Argument<string[]>("command")
        {
            Description = "The program to run and its arguments (put them after --).",
            Arity = ArgumentArity.OneOrMore,
        };
        var verb = new Command("record",
            "Run a program under the recorder (LD_PRELOAD libptrecord.so): every malloc, calloc, realloc, " +
            "reallocarray, free, memalign, posix_memalign, aligned_alloc, valloc and pvalloc call of every " +
            "thread, with the exact addresses glibc returned. The program's input and output pass through " +
            "unchanged and its exit code becomes ptreplay's. A one-line summary goes to stderr.\n\n" +
            "Examples:\n" +
            "  ptreplay record -o py.trace -- env PYTHONMALLOC=malloc python3 app.py\n" +
            "  ptreplay record -o sort.trace --no-follow -- sort big.txt\n\n" +
            "Exit codes: the program's (128+N when signal N killed it); 2 when the program could not be started.")
        {
            output, noFollow, raw, command,
        };
        verb.SetAction(parse =>
        {
            var options = new RecordingOptions
            {
                Command = parse.GetValue(command) ?? [],
                OutputPath = parse.GetValue(output)!,
                FollowChildren = !parse.GetValue(noFollow),
            };
            return Run(options, packTrace: !parse.GetValue(raw));
        });
        return verb;
    }

    private static int Run(RecordingOptions options, bool packTrace)
    {
        RecordingResult result;
        // Ctrl-C / SIGTERM reach the program (same process group); ptreplay stays to write the summary.
        using var keepInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
        using var keepQuit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => c.Cancel = true);
        try
        {
            result = Recorder.Run(options);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or FileNotFoundException or InvalidOperationException)
        {
            Console.Error.WriteLine($"ptreplay record: cannot run '{options.Command[0]}': {e.Message}");
            return 2;
        }

        try
        {
            Console.Error.WriteLine(RecordingReport.Finish(result, packTrace));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"ptreplay record: the program ran, but its trace could not be summarised: {e.Message}");
        }

        return result.ExitCode;
    }
}
