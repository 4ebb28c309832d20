namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// The environment real programs run in during tests: nothing inherited from the test host (no
/// LD_PRELOAD, MALLOC_*, GLIBC_TUNABLES, locale or tty settings leak in), only a fixed PATH plus what
/// the test names. Same input, same environment: recorded heaps stay comparable between runs.
/// </summary>
internal static class CleanEnvironment
{
    /// <summary>The only search path programs get.</summary>
    public const string SearchPath = "/usr/bin:/bin";

    /// <summary>PATH=<see cref="SearchPath"/>, then every entry of each of <paramref name="layers"/> in order (later wins).</summary>
    public static Dictionary<string, string> With(params IReadOnlyDictionary<string, string>?[] layers)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["PATH"] = SearchPath };
        foreach (var layer in layers)
        {
            if (layer is null)
            {
                continue;
            }

            foreach (var (key, value) in layer)
            {
                env[key] = value;
            }
        }

        return env;
    }
}
