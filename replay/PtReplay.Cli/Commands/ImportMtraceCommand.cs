using System.CommandLine;
using System.Globalization;
using PtReplay.Traces.Import;

namespace PtReplay.Cli.Commands;

/// <summary>`ptreplay import-mtrace FILE -o OUT`: converts glibc mtrace text into a trace.</summary>
public static class ImportMtraceCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var input = new Argument<string>("mtrace-file") { Description = "The text file glibc's mtrace() wrote (MALLOC_TRACE)." };
        var output = new Option<string>("--output", "-o") { Description = "The trace to write.", Required = true };
        var verb = new Command("import-mtrace",
            "Convert glibc's mtrace text into a PtReplay trace, so allocation streams captured with glibc's own " +
            "tracer can be inspected and replayed. Make one with:\n" +
            "  LD_PRELOAD=libc_malloc_debug.so.0 MALLOC_TRACE=app.mtrace ./app   (the program calls mtrace())\n\n" +
            "mtrace records only allocations (\"+\"), frees (\"-\"), reallocs (\"<\"/\">\", failed: \"!\"): every allocation " +
            "becomes malloc of the bytes mtrace printed (calloc and the aligned calls cannot be told apart), " +
            "there is one thread, and event i gets timestamp i ns (mtrace has no clock).\n\n" +
            "Examples:\n" +
            "  ptreplay import-mtrace app.mtrace -o app.trace\n" +
            "  ptreplay import-mtrace app.mtrace -o app.trace && ptreplay info app.trace\n\n" +
            "Output (stderr): one line with the number of events written. A malformed line fails with FILE:LINE.\n" +
            ExitCodes.Help)
        {
            input, output,
        };
        verb.SetAction(CliErrors.Guard("import-mtrace", parse =>
        {
            string inPath = CliPaths.Input(parse.GetValue(input)!, "mtrace");
            string outPath = CliPaths.OutputFile(parse.GetValue(output)!);
            long events = MtraceImporter.Import(inPath, outPath);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ptreplay import-mtrace: {outPath}: {events:N0} events from {inPath}"));
            return ExitCodes.Ok;
        }));
        return verb;
    }
}
