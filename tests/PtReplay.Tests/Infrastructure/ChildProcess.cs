using System.Diagnostics;

namespace PtReplay.Tests.Infrastructure;

/// <summary>Runs a program (not recorded) to its end with stdin closed and stdout/stderr captured.</summary>
internal static class ChildProcess
{
    /// <param name="file">The program.</param>
    /// <param name="args">Its arguments, passed as they are (no shell).</param>
    /// <param name="environment">The program's whole environment (nothing is inherited); null inherits the test host's.</param>
    /// <param name="workingDirectory">Where it runs; null keeps the test host's.</param>
    public static (int ExitCode, string Stdout, string Stderr) Run(string file, IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            psi.Environment.Clear();
            foreach ((string k, string v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        using Process p = Process.Start(psi)!;
        p.StandardInput.Close();
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }
}
