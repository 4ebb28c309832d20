using System.Diagnostics;

namespace PtReplay.Tests.Allocator;

/// <summary>Compiles Assets/driver.c with gcc once per test run and runs scripts through the real glibc.</summary>
public static class GlibcDriver
{
    private static readonly Lazy<string> Binary = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);

    private static string Compile()
    {
        string source = Path.Combine(AppContext.BaseDirectory, "Allocator", "Assets", "driver.c");
        string dir = Path.Combine(Path.GetTempPath(), "ptreplay-alloc-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        string exe = Path.Combine(dir, "driver");
        var (code, _, err) = Run("gcc", ["-O1", "-o", exe, source, "-lpthread"], null, null);
        if (code != 0)
            throw new InvalidOperationException("gcc failed to build driver.c: " + err);
        return exe;
    }

    private static (int Code, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, IDictionary<string, string>? env, string? cleanEnv)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        if (cleanEnv is not null)
        {
            psi.Environment.Clear();
            if (env is not null)
                foreach (var kv in env)
                    psi.Environment[kv.Key] = kv.Value;
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs the script in a clean environment (plus <paramref name="env"/>) and returns what glibc returned.</summary>
    public static DriverResult Execute(DriverScript script, IDictionary<string, string>? env = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "ptreplay-alloc-run-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string input = Path.Combine(dir, "script.bin"), output = Path.Combine(dir, "out.bin"), info = Path.Combine(dir, "info.xml");
            File.WriteAllBytes(input, script.ToBytes());
            var (code, _, err) = Run(Binary.Value, [input, output, info], env, "clean");
            if (code != 0)
                throw new InvalidOperationException($"driver exited {code}: {err}");
            var bytes = File.ReadAllBytes(output);
            ulong W(int i) => BitConverter.ToUInt64(bytes, i * 8);
            ulong n = W(1);
            var per = new ulong[n][];
            for (int i = 0; i < (int)n; i++)
                per[i] = [W(2 + i * 4), W(3 + i * 4), W(4 + i * 4), W(5 + i * 4)];
            return new DriverResult(W(0), per) { MallocInfoXml = File.Exists(info) ? File.ReadAllText(info) : "" };
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Runs a script that makes glibc abort; returns its exit code and stderr.</summary>
    public static (int ExitCode, string Stderr) ExecuteExpectingAbort(DriverScript script, IDictionary<string, string> env)
    {
        string dir = Path.Combine(Path.GetTempPath(), "ptreplay-alloc-run-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string input = Path.Combine(dir, "script.bin"), output = Path.Combine(dir, "out.bin");
            File.WriteAllBytes(input, script.ToBytes());
            var (code, _, err) = Run(Binary.Value, [input, output], env, "clean");
            return (code, err);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
