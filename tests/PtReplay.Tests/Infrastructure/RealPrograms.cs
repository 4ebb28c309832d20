namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// The real programs tests record (Debian's, never a pyenv shim) and the settings that make their heap
/// use repeat from run to run. The environment helpers return a fresh dictionary: callers add to it.
/// </summary>
internal static class RealPrograms
{
    public const string Python = "/usr/bin/python3";
    public const string Sqlite = "/usr/bin/sqlite3";
    public const string Perl = "/usr/bin/perl";
    public const string Sort = "/usr/bin/sort";

    /// <summary>
    /// The .NET host running these tests (a multi-threaded runtime every machine of this kind has): the test host's own
    /// executable when it is <c>dotnet</c>, else the one on PATH.
    /// </summary>
    public static string Dotnet { get; } = FindDotnet();

    private static string FindDotnet()
    {
        if (Environment.ProcessPath is { } self && Path.GetFileName(self) == "dotnet")
        {
            return self;
        }

        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "dotnet");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return "/usr/bin/dotnet";
    }

    /// <summary>Every Python object through glibc's malloc (not pymalloc's arenas) and a fixed string hash seed.</summary>
    public static Dictionary<string, string> PythonEnvironment() => new(StringComparer.Ordinal)
    {
        ["PYTHONMALLOC"] = "malloc",
        ["PYTHONHASHSEED"] = "0",
    };

    /// <summary>A fixed hash seed and no per-hash key order perturbation.</summary>
    public static Dictionary<string, string> PerlEnvironment() => new(StringComparer.Ordinal)
    {
        ["PERL_HASH_SEED"] = "0",
        ["PERL_PERTURB_KEYS"] = "0",
    };
}
