using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Traces;

/// <summary>Compiles a small C program with gcc into a temp dir and runs it with a clean environment.</summary>
internal sealed class NativeProgram : IDisposable
{
    private readonly TempDir _dir;

    private NativeProgram(TempDir dir, string exe)
    {
        _dir = dir;
        Executable = exe;
    }

    /// <summary>The temp directory (deleted on dispose).</summary>
    public string Directory => _dir.Path;

    /// <summary>The compiled program.</summary>
    public string Executable { get; }

    public static NativeProgram Compile(string name, string source, string flags = "-O0")
    {
        var dir = new TempDir($"ptreplay-{name}-");
        try
        {
            return new NativeProgram(dir, Gcc.CompileSource(dir.Path, name, source, Gcc.Flags(flags)));
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    public (int ExitCode, string Stdout, string Stderr) Run(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        Exec(Executable, args, Directory, environment);

    /// <summary>Runs <paramref name="file"/> in a <see cref="CleanEnvironment"/> with LC_ALL=C plus <paramref name="environment"/>.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Exec(string file, IEnumerable<string> args, string workDir, IReadOnlyDictionary<string, string> environment) =>
        ChildProcess.Run(file, args, CleanEnvironment.With(new Dictionary<string, string> { ["LC_ALL"] = "C" }, environment), workDir);

    public void Dispose() => _dir.Dispose();
}
