using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// Compiles the small C programs and preload libraries the recording tests need, once per test run,
/// into a private temporary folder (gcc is part of the build's prerequisites).
/// </summary>
internal static class NativeTestBuild
{
    private static readonly Lazy<string> Folder = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "ptreplay-rec-tests-" + Environment.ProcessId);
        System.IO.Directory.CreateDirectory(dir);
        return dir;
    });

    private static readonly Dictionary<string, Lazy<string>> Built = new(StringComparer.Ordinal);

    /// <summary>The temporary folder the compiled files live in.</summary>
    public static string Directory => Folder.Value;

    /// <summary>Compiles <paramref name="source"/> into an executable named <paramref name="name"/> (cached).</summary>
    public static string Program(string name, string source) =>
        Build(name, source, ["-O1", "-fno-builtin", "-Wall"], ["-lpthread"]);

    /// <summary>Compiles <paramref name="source"/> into an executable with debug information (-g; a PIE, as gcc builds by default) named <paramref name="name"/> (cached).</summary>
    public static string DebugProgram(string name, string source) =>
        Build(name, source, ["-O1", "-g", "-fno-builtin", "-Wall"], ["-lpthread"]);

    /// <summary>Compiles <paramref name="source"/> into a shared library named <paramref name="name"/> (cached).</summary>
    public static string SharedLibrary(string name, string source) =>
        Build(name, source, ["-O1", "-fno-builtin", "-shared", "-fPIC", "-Wall"], []);

    private static string Build(string name, string source, string[] flags, string[] libraries)
    {
        Lazy<string> lazy;
        lock (Built)
        {
            if (!Built.TryGetValue(name, out lazy!))
            {
                lazy = new Lazy<string>(() => Gcc.CompileSource(Directory, name, source, flags, libraries));
                Built.Add(name, lazy);
            }
        }

        return lazy.Value;
    }
}
