using PtReplay.Replay.Native;

namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// What a test needs from the machine beyond the base tools (.NET SDK, gcc, make, python3, perl, sqlite3):
/// optional Debian packages (the real allocators, LTTng). A test that needs one calls a method here first and
/// is marked <c>[SkippableFact]</c> / <c>[SkippableTheory]</c>; on a machine without the package it is reported
/// as skipped, with a reason that names the package and the apt-get command.
/// <para>With <see cref="StrictVariable"/>=1 (set by .ci/run, which installs every package) a missing package
/// fails the test instead, so CI always runs everything. A test marked <c>[Fact]</c> that calls these methods
/// fails when the package is missing: it never passes silently.</para>
/// </summary>
public static class Requires
{
    /// <summary>The variable under which a missing package fails the test instead of skipping it.</summary>
    public const string StrictVariable = "PTREPLAY_REQUIRE_ALL_PACKAGES";

    /// <summary>Where Debian puts shared libraries, multiarch first.</summary>
    public static IReadOnlyList<string> LibraryFolders { get; } =
        ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"];

    /// <summary>True when <see cref="StrictVariable"/> is 1: missing packages fail.</summary>
    public static bool Strict => Environment.GetEnvironmentVariable(StrictVariable) == "1";

    /// <summary>
    /// Needs the Debian package <paramref name="package"/>, known to be installed when one of
    /// <paramref name="anyOf"/> exists: an absolute path, or a bare file name looked up in <see cref="LibraryFolders"/>.
    /// Returns the path found; otherwise skips (fails under <see cref="StrictVariable"/>).
    /// </summary>
    public static string Package(string package, params string[] anyOf)
    {
        string? found = Find(anyOf);
        if (found is null)
        {
            Missing([(package, string.Join(" or ", anyOf))]);
        }

        return found!;
    }

    /// <summary>
    /// Needs every package of <paramref name="packages"/> (name, files as in <see cref="Package"/>); one skip
    /// reason names all the missing ones. Returns the path found for each, in order.
    /// </summary>
    public static IReadOnlyList<string> Packages(params (string Package, string[] AnyOf)[] packages)
    {
        var found = packages.Select(p => Find(p.AnyOf)).ToList();
        var missing = packages.Where((p, i) => found[i] is null).Select(p => (p.Package, string.Join(" or ", p.AnyOf))).ToList();
        if (missing.Count > 0)
        {
            Missing(missing);
        }

        return found!;
    }

    /// <summary>
    /// Needs every replay engine of <paramref name="engines"/> to be runnable here: the native ones other than
    /// glibc need their allocator's Debian package (libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0), found
    /// the way the replayer finds it.
    /// </summary>
    public static void Engines(IEnumerable<string> engines)
    {
        var missing = new List<(string Package, string What)>();
        foreach (string engine in engines)
        {
            if (AllocatorLibraries.Library(engine) is { } lib && AllocatorLibraries.Resolve(engine).Error is not null)
            {
                missing.Add((lib.Package, $"{lib.File} for engine {engine}"));
            }
        }

        if (missing.Count > 0)
        {
            Missing(missing);
        }
    }

    private static string? Find(string[] anyOf) =>
        anyOf.SelectMany(f => f.Contains('/', StringComparison.Ordinal) ? [f] : LibraryFolders.Select(d => Path.Combine(d, f)))
            .FirstOrDefault(File.Exists);

    private static void Missing(IReadOnlyList<(string Package, string What)> missing) => throw Outcome(missing, Strict);

    /// <summary>
    /// What a test that lacks <paramref name="missing"/> throws: a skip naming each missing package, what of it
    /// was looked for and the apt-get command; under <paramref name="strict"/> a failure with the same text.
    /// </summary>
    internal static Exception Outcome(IReadOnlyList<(string Package, string What)> missing, bool strict)
    {
        string[] packages = [.. missing.Select(m => m.Package).Distinct()];
        string names = string.Join(' ', packages);
        string reason = $"needs the Debian package{(packages.Length > 1 ? "s" : "")} {names} " +
            $"({string.Join("; ", missing.Select(m => m.What))} not found); " +
            $"install with: apt-get install -y --no-install-recommends {names}";
        return strict
            ? new Xunit.Sdk.XunitException($"{StrictVariable}=1 and this test {reason}")
            : new SkipException(reason);
    }
}
