using System.Diagnostics;

namespace PtReplay.Tests.Traces;

/// <summary>Compiles a small C program with gcc into a temp dir and runs it with a clean environment.</summary>
internal sealed class NativeProgram : IDisposable
{
    private NativeProgram(string dir, string exe)
    {
        Directory = dir;
        Executable = exe;
    }

    /// <summary>The temp directory (deleted on dispose).</summary>
    public string Directory { get; }

    /// <summary>The compiled program.</summary>
    public string Executable { get; }

    public static NativeProgram Compile(string name, string source, string flags = "-O0")
    {
        string dir = Path.Combine(Path.GetTempPath(), $"ptreplay-{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(dir);
        string c = Path.Combine(dir, name + ".c");
        string exe = Path.Combine(dir, name);
        File.WriteAllText(c, source);
        (int code, string stdout, string stderr) = Exec("/usr/bin/gcc", [.. flags.Split(' ', StringSplitOptions.RemoveEmptyEntries), "-o", exe, c], dir, new Dictionary<string, string>());
        Assert.True(code == 0, $"gcc failed ({code}): {stdout}{stderr}");
        return new NativeProgram(dir, exe);
    }

    public (int ExitCode, string Stdout, string Stderr) Run(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        Exec(Executable, args, Directory, environment);

    public static (int ExitCode, string Stdout, string Stderr) Exec(string file, IEnumerable<string> args, string workDir, IReadOnlyDictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Clear();
        psi.Environment["PATH"] = "/usr/bin:/bin";
        psi.Environment["LC_ALL"] = "C";
        foreach ((string k, string v) in environment)
        {
            psi.Environment[k] = v;
        }

        using Process p = Process.Start(psi)!;
        p.StandardInput.Close();
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
