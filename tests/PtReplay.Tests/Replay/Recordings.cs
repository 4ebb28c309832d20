using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;

namespace PtReplay.Tests.Replay;

/// <summary>
/// Real recordings the replay tests share, made once per test run with the LD_PRELOAD recorder:
/// a small Python script (PYTHONMALLOC=malloc, PYTHONHASHSEED=0), an sqlite3 session, and the bundled
/// multi-threaded workload. Each lives in its own temporary folder.
/// </summary>
public sealed class Recordings : IDisposable
{
    /// <summary>The Python script: builds, serialises and drops a few thousand objects.</summary>
    public const string PythonScript =
        "import json\n" +
        "d = {str(i): [j * 3 for j in range(i % 40)] for i in range(2000)}\n" +
        "s = json.dumps(d)\n" +
        "x = json.loads(s)\n" +
        "del d\n" +
        "y = sorted(x.items())[:10]\n" +
        "print(len(s), len(y))\n";

    /// <summary>The SQL fed to sqlite3 :memory:.</summary>
    public const string SqliteScript =
        "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT, c BLOB);\n" +
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)\n" +
        "  INSERT INTO t SELECT i, printf('row %d %s', i, hex(randomblob(i % 50))), zeroblob(i % 300) FROM n;\n" +
        "CREATE INDEX tb ON t(b);\n" +
        "DELETE FROM t WHERE a % 3 = 0;\n" +
        "SELECT count(*), sum(length(b)) FROM t;\n";

    private readonly TempDir _dir = new("ptreplay-rec-");
    private readonly Lazy<string> _python;
    private readonly Lazy<string> _sqlite;
    private readonly Lazy<string> _mt;

    public Recordings()
    {
        _python = new(() => Record("python.trace", [RealPrograms.Python, "-c", PythonScript],
            RealPrograms.PythonEnvironment(), null));
        _sqlite = new(() => Record("sqlite.trace", [RealPrograms.Sqlite, ":memory:"], [], SqliteScript));
        _mt = new(() => Record("mt.trace", [NativeArtifacts.Find(NativeArtifacts.MtWorkload), "4", "3000", "7"], [], null));
    }

    /// <summary>Single-thread Python recording.</summary>
    public string Python => _python.Value;

    /// <summary>Single-thread sqlite3 recording.</summary>
    public string Sqlite => _sqlite.Value;

    /// <summary>Four-thread producer/consumer recording (every handed-over block is freed by another thread).</summary>
    public string MultiThread => _mt.Value;

    /// <summary>A fresh folder under this fixture's temporary folder.</summary>
    public string NewFolder(string name) => _dir.NewFolder(name);

    private string Record(string name, IReadOnlyList<string> command, Dictionary<string, string> env, string? stdin)
    {
        string path = _dir.File(name);
        RecordedRun.RecordOrThrow(command, path, CleanEnvironment.With(env), RecordedRun.Input(stdin), timeout: TimeSpan.FromMinutes(1));
        return path;
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>Shares one <see cref="Recordings"/> across the replay test classes.</summary>
[CollectionDefinition(Name)]
public sealed class RecordingsGroup : ICollectionFixture<Recordings>
{
    public const string Name = "replay recordings";
}
