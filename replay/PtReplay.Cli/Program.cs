using System.CommandLine;
using PtReplay.Cli.Commands;

namespace PtReplay.Cli;

/// <summary>Entry point of `ptreplay` (also reached as `./run-bench.sh VERB ...`).</summary>
public static class Program
{
    /// <summary>Builds the command tree; tests call this to run verbs in-process.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand(
            "PtReplay: record the malloc/free stream of real Linux programs and replay it into a C# model " +
            "of glibc's ptmalloc and into real allocators.\n\n" +
            "Typical use:\n" +
            "  ptreplay record -o py.trace -- python3 app.py   # record a program\n" +
            "  ptreplay info py.trace                          # what it did\n\n" +
            ExitCodes.Help);
        // One line per verb; each verb lives in Commands/<Verb>Command.cs.
        root.Subcommands.Add(VersionCommand.Create());
        root.Subcommands.Add(RecordCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(SweepCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(PackCommand.Create());
        root.Subcommands.Add(ImportMtraceCommand.Create());
        root.Subcommands.Add(ImportLttngCommand.Create());
        root.Subcommands.Add(BenchRecordCommand.Create());
        root.Subcommands.Add(VerifyCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(GateCommand.Create());
        root.Subcommands.Add(HeapmapCommand.Create());
        root.Subcommands.Add(ExplainCommand.Create());
        return root;
    }

    /// <summary>Runs the command line and returns the process exit code.</summary>
    public static int Main(string[] args)
    {
        ParseResult parsed = BuildRoot().Parse(args);
        string verb = parsed.CommandResult.Command.Name;
        // Every verb's action already maps its exceptions (CliErrors.Guard); this catches what escapes the parser itself.
        int code = CliErrors.Run(verb, () => parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }), Console.Error);
        return parsed.Errors.Count > 0 ? ExitCodes.Usage : code;   // usage errors exit 2 (System.CommandLine's default is 1)
    }
}
