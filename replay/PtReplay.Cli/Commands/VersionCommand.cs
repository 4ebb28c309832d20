using System.CommandLine;

namespace PtReplay.Cli.Commands;

/// <summary>`ptreplay version`: prints the tool and trace format versions.</summary>
public static class VersionCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var command = new Command("version", "Print the PtReplay version, the trace format version it writes by default and the newest it reads.\n" + ExitCodes.Help);
        command.SetAction(_ =>
        {
            Console.WriteLine($"ptreplay {typeof(VersionCommand).Assembly.GetName().Version} (trace format {Traces.TraceFormat.CurrentVersion}; {Traces.TraceFormat.LostEventsVersion} with lost events, {Traces.TraceFormat.StacksVersion} with call stacks, {Traces.TraceFormat.MultiThreadOrderVersion} with threads ordered by lifecycles; reads 1 to {Traces.TraceFormat.NewestReadable})");
            return 0;
        });
        return command;
    }
}
