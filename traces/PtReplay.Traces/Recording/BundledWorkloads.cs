using System.Globalization;
using System.Text;

namespace PtReplay.Traces.Recording;

/// <summary>
/// One bundled real workload (traces/workloads): a real program, the settings that make its heap use repeat
/// from run to run, and its standard input.
/// </summary>
/// <param name="Name">Short name (<see cref="BundledWorkloads.Names"/>).</param>
/// <param name="Description">What it does and how dense its malloc-family calls are.</param>
/// <param name="Command">Program and arguments (absolute paths: Debian's programs, never a shim).</param>
/// <param name="Environment">Variables added to the caller's environment.</param>
/// <param name="StandardInput">Bytes fed to standard input, or null for none.</param>
public sealed record BundledWorkload(
    string Name,
    string Description,
    IReadOnlyList<string> Command,
    IReadOnlyDictionary<string, string?> Environment,
    ReadOnlyMemory<byte>? StandardInput);

/// <summary>
/// The bundled workloads the benchmark commands run (full size; the tests use smaller inputs). Each is a real
/// program doing real work, deterministic in its calls when single-threaded.
/// </summary>
public static class BundledWorkloads
{
    /// <summary>Every workload name: the single-threaded ones by the density of their malloc-family calls, then the others.</summary>
    public static IReadOnlyList<string> Names { get; } = ["python", "churn", "perl", "sqlite", "gcc", "sort", "mt"];

    /// <summary>
    /// What the workload called <paramref name="name"/> does and how dense its calls are, without finding its files or
    /// making its input (help texts are built on every start of ptreplay); throws <see cref="ArgumentException"/> for an
    /// unknown name.
    /// </summary>
    public static string Describe(string name) => name switch
    {
        "python" => "python3 python_work.py 40: JSON encode/decode, dicts and strings; a call every ~30 ns",
        "churn" => "python3 python_churn.py: dict/str/tuple churn; a call every ~100 ns",
        "perl" => "perl perl_work.pl 30: hashes, strings, regexes, sorting",
        "sqlite" => "sqlite3 :memory: < sqlite_work.sql: inserts, indexes, joins, aggregates",
        "gcc" => "gcc -O2 -c mt_alloc.c: the driver, cc1 and as (each process traced into its own file)",
        "sort" => "sort of 60,000 generated lines (C locale)",
        "mt" => "ptworkload-mt: 4 threads, producer/consumer handoffs, every block freed by another thread",
        _ => throw new ArgumentException($"unknown workload '{name}'; the bundled ones are: {string.Join(", ", Names)}", nameof(name)),
    };

    /// <summary>The workload called <paramref name="name"/>; throws <see cref="ArgumentException"/> naming the known ones otherwise.</summary>
    public static BundledWorkload Get(string name)
    {
        string description = Describe(name);
        Dictionary<string, string?> python = new() { ["PYTHONMALLOC"] = "malloc", ["PYTHONHASHSEED"] = "0" };
        return name switch
        {
            "python" => new(name, description, ["/usr/bin/python3", File("python_work.py"), "40"], python, null),
            "churn" => new(name, description, ["/usr/bin/python3", File("python_churn.py")], python, null),
            "perl" => new(name, description, ["/usr/bin/perl", File("perl_work.pl"), "30"],
                new Dictionary<string, string?> { ["PERL_HASH_SEED"] = "0", ["PERL_PERTURB_KEYS"] = "0" }, null),
            "sqlite" => new(name, description, ["/usr/bin/sqlite3", ":memory:", "-init", "/dev/null", "-bail", "-batch"],
                new Dictionary<string, string?>(), System.IO.File.ReadAllBytes(File("sqlite_work.sql"))),
            "gcc" => new(name, description, ["/usr/bin/gcc", "-O2", "-c", File("mt_alloc.c"), "-o", "/dev/null"],
                new Dictionary<string, string?> { ["LC_ALL"] = "C" }, null),
            "sort" => new(name, description, ["/usr/bin/sort"], new Dictionary<string, string?> { ["LC_ALL"] = "C" }, SortInput(60_000)),
            _ => new(name, description, [NativeArtifacts.Find(NativeArtifacts.MtWorkload), "4", "100000"], new Dictionary<string, string?>(), null),
        };
    }

    /// <summary>traces/workloads, searched upwards from the program's folder and the working directory.</summary>
    public static string Directory() =>
        RepositoryFiles.FindAbove(Path.Combine("traces", "workloads"), AppContext.BaseDirectory, Environment.CurrentDirectory) ??
        throw new DirectoryNotFoundException(
            $"The bundled workloads (traces/workloads) were not found above {AppContext.BaseDirectory} or {Environment.CurrentDirectory}.");

    private static string File(string name) => Path.Combine(Directory(), name);

    /// <summary><paramref name="lines"/> lines in a scrambled but fixed order (the same every run).</summary>
    private static byte[] SortInput(int lines)
    {
        const string Letters = "abcdefghijklmnopqrstuvwxyz";
        var text = new StringBuilder(lines * 40);
        for (int i = 1; i <= lines; i++)
        {
            text.Append(((i * 7919L) % 100003).ToString("D8", CultureInfo.InvariantCulture))
                .Append(" line ").Append(i).Append(' ').Append(Letters, i % 26, Letters.Length - i % 26).Append('\n');
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }
}
