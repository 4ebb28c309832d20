using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>The real programs the recording tests run, and helpers to run them recorded or not.</summary>
internal static class RecordingRuns
{
    /// <summary>A program run: command, extra environment, stdin, and the fewest malloc-family calls it makes.</summary>
    public sealed record Workload(string Name, string[] Command, Dictionary<string, string> Environment, byte[]? Input, int MinCalls = 1000);

    /// <summary>The deterministic single-thread workloads (small inputs: the tests must stay fast).</summary>
    public static Workload Get(string name) => name switch
    {
        "python" => new Workload(name, [RealPrograms.Python, Path.Combine(RepoFiles.Workloads, "python_work.py"), "1"],
            RealPrograms.PythonEnvironment(), null),
        "sqlite" => new Workload(name, [RealPrograms.Sqlite, ":memory:", "-init", "/dev/null", "-bail", "-batch"],
            [], File.ReadAllBytes(Path.Combine(RepoFiles.Workloads, "sqlite_work.sql"))),
        "perl" => new Workload(name, [RealPrograms.Perl, Path.Combine(RepoFiles.Workloads, "perl_work.pl"), "3"],
            RealPrograms.PerlEnvironment(), null),
        // A small sort buffer makes sort spill to temporary files and merge them: more calls.
        "sort" => new Workload(name, [RealPrograms.Sort, "--parallel=1", "-S", "32K"], new() { ["LC_ALL"] = "C" }, SortInput(), MinCalls: 100),
        "mt" => new Workload(name, [NativeArtifacts.Find(NativeArtifacts.MtWorkload), "4", "3000"], [], null),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "unknown workload"),
    };

    /// <summary>3000 lines in a scrambled but fixed order.</summary>
    private static byte[] SortInput()
    {
        var text = new System.Text.StringBuilder();
        for (int i = 1; i <= 3000; i++)
        {
            text.Append(((i * 7919) % 100003).ToString("D8", System.Globalization.CultureInfo.InvariantCulture))
                .Append(" line ").Append(i).Append('\n');
        }

        return System.Text.Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>A small fixed environment: the same for every run, so runs are comparable.</summary>
    public static Dictionary<string, string> BaseEnvironment(string home) => CleanEnvironment.With(new Dictionary<string, string>
    {
        ["HOME"] = home,
        ["LANG"] = "C",
        ["TMPDIR"] = home,
    });

    /// <summary>Runs a workload with output captured, recorded (into <paramref name="trace"/>) or not.</summary>
    public static RecordingResult Run(Workload w, string? trace, string home, bool follow = true,
        IReadOnlyDictionary<string, string>? extraEnvironment = null) =>
        RecordedRun.Run(w.Command, trace, CleanEnvironment.With(BaseEnvironment(home), w.Environment, extraEnvironment),
            w.Input, follow, home);

    /// <summary>Every event of a trace, in the reader's order.</summary>
    public static List<AllocEvent> ReadEvents(string path)
    {
        using var reader = TraceReader.Open(path);
        return reader.ReadAll().ToList();
    }
}
