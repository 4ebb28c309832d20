using System.Text.RegularExpressions;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Tests.Reports;

/// <summary>
/// A report over a recorded process tree (a shell that forks and execs), each process replayed on its own: the contents
/// list the processes as the tree the recorder saw (a child under its parent, by the pids in the traces), every anchor is
/// unique and every link lands on one, and with many workloads each section starts folded.
/// </summary>
public sealed partial class ReportNavigationTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-report-nav-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TheContents_AreTheProcessTree_AndEveryAnchorIsUnique()
    {
        string trace = _dir.File("sh.trace");
        RecordedRun.RecordOrThrow(["sh", "-c", "ls / > /dev/null; echo done | cat > /dev/null"], trace, CleanEnvironment.With(), followChildren: true);
        var traces = new List<string> { trace };
        traces.AddRange(Recorder.FindChildTraces(trace));
        Assert.True(traces.Count >= 3, $"only {traces.Count} trace(s) recorded");
        var pids = new Dictionary<string, (int Pid, int ParentPid)>();
        var folders = new List<string>();
        foreach (string t in traces)
        {
            using (var reader = TraceReader.Open(t))
            {
                pids[Path.GetFileName(t)] = (reader.Header.Pid, reader.Header.ParentPid);
            }

            string folder = _dir.File("replay-" + Path.GetFileName(t));
            var replay = CliRunner.Run("replay", t, "--engine", "sim", "--out", folder);
            Assert.True(replay.ExitCode == 0, replay.Stderr);
            folders.Add(folder);
        }

        // The root's folder twice: two workloads of the same name.
        string html = _dir.File("report.html");
        var report = CliRunner.Run(["report", .. folders, folders[0], "-o", html]);
        Assert.True(report.ExitCode == 0, report.Stderr);
        string page = File.ReadAllText(html);

        List<string> ids = [.. Id().Matches(page).Select(m => m.Groups[1].Value)];
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        foreach (Match link in Link().Matches(page))
        {
            Assert.Contains(link.Groups[1].Value, ids);
        }

        Assert.Equal(folders.Count + 1, ids.Count(i => i.StartsWith("w-", StringComparison.Ordinal)));

        // Depth of each workload in the contents (nested lists) against the pids the traces recorded.
        string nav = page[page.IndexOf("<nav", StringComparison.Ordinal)..page.IndexOf("</nav>", StringComparison.Ordinal)];
        var depth = new Dictionary<string, int>(StringComparer.Ordinal);
        int level = 0;
        foreach (Match m in Token().Matches(nav))
        {
            if (m.Value == "<ul>")
            {
                level++;
            }
            else if (m.Value == "</ul>")
            {
                level--;
            }
            else
            {
                depth.TryAdd(m.Groups[1].Value, level);
            }
        }

        string root = Path.GetFileName(trace);
        foreach (var (name, (pid, parentPid)) in pids)
        {
            string id = "w-" + Regex.Replace(name, "[^A-Za-z0-9]", "-");
            Assert.True(depth.ContainsKey(id), $"{name} not in the contents");
            if (name == root)
            {
                Assert.Equal(1, depth[id]);
            }
            else
            {
                // Under the trace of its parent process, or of its own pid when it is an exec'd image of it.
                string parent = pids.First(p => p.Key != name && (p.Value.Pid == parentPid || p.Value.Pid == pid)).Key;
                Assert.True(depth[id] > depth["w-" + Regex.Replace(parent, "[^A-Za-z0-9]", "-")], $"{name} is not under {parent}");
            }
        }
    }

    [Fact]
    public void ManyWorkloads_StartFolded_AFewOpen()
    {
        string trace = RepoFiles.SampleTraces[0];
        string folder = _dir.File("replay-one");
        Assert.Equal(0, CliRunner.Run("replay", trace, "--engine", "sim", "--out", folder).ExitCode);
        string few = _dir.File("few.html"), many = _dir.File("many.html");
        Assert.Equal(0, CliRunner.Run("report", folder, folder, "-o", few).ExitCode);
        Assert.Equal(0, CliRunner.Run(["report", .. Enumerable.Repeat(folder, 13), "-o", many]).ExitCode);
        Assert.Equal(2, Regex.Count(File.ReadAllText(few), "<details open>"));
        string manyPage = File.ReadAllText(many);
        Assert.Equal(13, Regex.Count(manyPage, "<details>"));
        Assert.Equal(0, Regex.Count(manyPage, "<details open>"));
    }

    [GeneratedRegex("id=\"([^\"]+)\"")]
    private static partial Regex Id();

    [GeneratedRegex("href=\"#([^\"]+)\"")]
    private static partial Regex Link();

    [GeneratedRegex("<ul>|</ul>|href=\"#([^\"]+)\"")]
    private static partial Regex Token();
}
