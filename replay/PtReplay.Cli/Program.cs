using System.CommandLine;
using PtReplay.Cli.Commands;

namespace PtReplay.Cli;

/// <summary>Entry point of `ptreplay` (also reached as `./run-bench.sh VERB ...`).</summary>
public static class Program
{
    /// <summary>Every verb by name, each made by its Commands/&lt;Verb&gt;Command.cs, in the order help lists them.</summary>
    private static readonly (string Name, Func<Command> Create)[] Verbs =
    [
        ("version", VersionCommand.Create),
        ("record", RecordCommand.Create),
        ("replay", ReplayCommand.Create),
        ("sweep", SweepCommand.Create),
        ("info", InfoCommand.Create),
        ("pack", PackCommand.Create),
        ("import-mtrace", ImportMtraceCommand.Create),
        ("import-lttng", ImportLttngCommand.Create),
        ("bench-record", BenchRecordCommand.Create),
        ("verify", VerifyCommand.Create),
        ("report", ReportCommand.Create),
        ("compare", CompareCommand.Create),
        ("gate", GateCommand.Create),
        ("heapmap", HeapmapCommand.Create),
        ("explain", ExplainCommand.Create),
    ];

    /// <summary>Builds the command tree; tests call this to run verbs in-process.</summary>
    public static RootCommand BuildRoot() => BuildRoot(null);

    /// <summary>
    /// Builds the command tree, or only the verb named <paramref name="verb"/> under the root when there is one by that
    /// name: a verb's command line parses, helps and fails alike either way, and building the others (their options,
    /// their generic option types, their help) costs every start of `record` CPU time before the program starts.
    /// </summary>
    public static RootCommand BuildRoot(string? verb)
    {
        var root = new RootCommand(
            "PtReplay: record the malloc/free stream of real Linux programs and replay it into a C# model " +
            "of glibc's ptmalloc and into real allocators.\n\n" +
            "Typical use:\n" +
            "  ptreplay record -o py.trace -- python3 app.py   # record a program\n" +
            "  ptreplay info py.trace                          # what it did\n\n" +
            ExitCodes.Help);
        bool known = Verbs.Any(v => v.Name == verb);
        foreach ((string name, Func<Command> create) in Verbs)
        {
            if (!known || name == verb)
            {
                root.Subcommands.Add(create());
            }
        }

        return root;
    }

    /// <summary>Runs the command line and returns the process exit code.</summary>
    public static int Main(string[] args)
    {
        ParseResult parsed = BuildRoot(args.Length > 0 ? args[0] : null).Parse(args);
        string verb = parsed.CommandResult.Command.Name;
        // Every verb's action already maps its exceptions (CliErrors.Guard); this catches what escapes the parser itself.
        int code = CliErrors.Run(verb, () => parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }), Console.Error);
        return parsed.Errors.Count > 0 ? ExitCodes.Usage : code;   // usage errors exit 2 (System.CommandLine's default is 1)
    }
}
