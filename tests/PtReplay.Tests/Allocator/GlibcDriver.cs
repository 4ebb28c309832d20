using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Allocator;

/// <summary>Compiles Assets/driver.c with gcc once per test run and runs scripts through the real glibc.</summary>
public static class GlibcDriver
{
    private static readonly Lazy<string> Binary = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>driver.c as copied beside the test assembly.</summary>
    public static string SourcePath => Path.Combine(AppContext.BaseDirectory, "Allocator", "Assets", "driver.c");

    private static string Compile()
    {
        string source = SourcePath;
        string dir = Path.Combine(Path.GetTempPath(), "ptreplay-alloc-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        return Gcc.Compile(source, Path.Combine(dir, "driver"), ["-O1"], "-lpthread");
    }

    /// <summary>Runs the driver with exactly <paramref name="env"/> as its environment (not even PATH is added).</summary>
    private static (int Code, string Stdout, string Stderr) RunDriver(IEnumerable<string> args, IDictionary<string, string>? env) =>
        ChildProcess.Run(Binary.Value, args, env is null ? new Dictionary<string, string>() : new Dictionary<string, string>(env));

    /// <summary>Runs the script in a clean environment (plus <paramref name="env"/>) and returns what glibc returned.</summary>
    public static DriverResult Execute(DriverScript script, IDictionary<string, string>? env = null)
    {
        using var temp = new TempDir("ptreplay-alloc-run-");
        string dir = temp.Path;
        string input = Path.Combine(dir, "script.bin"), output = Path.Combine(dir, "out.bin"), info = Path.Combine(dir, "info.xml");
        File.WriteAllBytes(input, script.ToBytes());
        var (code, _, err) = RunDriver([input, output, info], env);
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

    /// <summary>Runs a script that makes glibc abort; returns its exit code and stderr.</summary>
    public static (int ExitCode, string Stderr) ExecuteExpectingAbort(DriverScript script, IDictionary<string, string> env)
    {
        using var temp = new TempDir("ptreplay-alloc-run-");
        string dir = temp.Path;
        string input = Path.Combine(dir, "script.bin"), output = Path.Combine(dir, "out.bin");
        File.WriteAllBytes(input, script.ToBytes());
        var (code, _, err) = RunDriver([input, output], env);
        return (code, err);
    }
}
