namespace PtReplay.Replay.Native;

/// <summary>
/// The engines the native replayer runs and the Debian libraries it preloads for them.
/// glibc needs no preload; the others come from libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0.
/// </summary>
public static class AllocatorLibraries
{
    private static readonly string[] SearchDirectories =
        ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];

    private static readonly Dictionary<string, (string File, string Package)> Preloads = new(StringComparer.Ordinal)
    {
        ["jemalloc"] = ("libjemalloc.so.2", "libjemalloc2"),
        ["tcmalloc"] = ("libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
        ["mimalloc"] = ("libmimalloc.so.2", "libmimalloc2.0"),
    };

    /// <summary>Native engine names, in report order.</summary>
    public static IReadOnlyList<string> NativeEngines { get; } = ["glibc", "jemalloc", "tcmalloc", "mimalloc"];

    /// <summary>True for an engine the native replayer runs.</summary>
    public static bool IsNative(string engine) => engine == "glibc" || Preloads.ContainsKey(engine);

    /// <summary>The file preloaded for an engine and the Debian package that installs it; null for glibc and unknown names.</summary>
    public static (string File, string Package)? Library(string engine) =>
        Preloads.TryGetValue(engine, out var lib) ? lib : null;

    /// <summary>
    /// The library to LD_PRELOAD for an engine: null for glibc; otherwise the path, or an error
    /// message naming the file and the Debian package when it is not installed.
    /// <paramref name="searchDirectories"/> replaces the usual library folders (tests).
    /// </summary>
    public static (string? Path, string? Error) Resolve(string engine, IReadOnlyList<string>? searchDirectories = null)
    {
        IReadOnlyList<string> dirs = searchDirectories ?? SearchDirectories;
        if (engine == "glibc")
        {
            return (null, null);
        }

        if (!Preloads.TryGetValue(engine, out var lib))
        {
            return (null, $"unknown native engine '{engine}' (known: {string.Join(", ", NativeEngines)})");
        }

        foreach (string dir in dirs)
        {
            string candidate = Path.Combine(dir, lib.File);
            if (File.Exists(candidate))
            {
                return (candidate, null);
            }
        }

        return (null, $"{lib.File} not found in {string.Join(", ", dirs)}; install it with `apt-get install {lib.Package}`");
    }
}
