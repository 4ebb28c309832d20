using System.CommandLine;

namespace PtReplay.Cli.Commands;

/// <summary>`ptreplay version`: prints the tool and trace format versions.</summary>
public static class VersionCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var command = new Command("version", "Print the PtReplay version and the trace format version it writes.\n" + ExitCodes.Help);
        command.SetAction(_ =>
        {
            Console.WriteLine($"ptreplay {typeof(VersionCommand).Assembly.GetName().Version} (trace format {Traces.TraceFormat.CurrentVersion})");
            return 0;
        });
        return command;
    }
}
