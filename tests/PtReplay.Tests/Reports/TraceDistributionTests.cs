using System.Numerics;
using PtReplay.Reports.Input;
using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Reports;

/// <summary>
/// The trace's request sizes and block lifetimes in summary.json, against the same distributions computed here from the
/// recorded events (a block lives from the call that returned it to the call that freed it, through reallocs), and their
/// plots in the report.
/// </summary>
public sealed class TraceDistributionTests : IDisposable
{
    private readonly TempDir _dir = new("ptreplay-distributions-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void SizesAndLifetimes_AreTheRecordedOnes_AndTheReportDrawsThem()
    {
        string trace = RepoFiles.SampleTraces.First(t => t.EndsWith("sqlite.trace", StringComparison.Ordinal));
        var sizes = new long[64];
        var lifetimes = new long[64];
        var lifetimesNs = new long[64];
        var born = new Dictionary<ulong, (long Call, long Ns)>();
        long call = 0;
        using (var reader = TraceReader.Open(trace))
        {
            foreach (AllocEvent e in reader.ReadAll())
            {
                if (!e.Kind.IsCall())
                {
                    continue;
                }

                bool isRealloc = e.Kind is EventKind.Realloc or EventKind.ReallocArray;
                if (e.Kind == EventKind.Free || (isRealloc && e.Ptr != 0 && e.Result == 0 && e.RequestedBytes == 0))
                {
                    if (e.Ptr != 0 && born.Remove(e.Ptr, out var b))
                    {
                        lifetimes[Bucket((ulong)(call - b.Call))]++;
                        lifetimesNs[Bucket((ulong)Math.Max(0, e.Timestamp - b.Ns))]++;
                    }
                }
                else if (e.Result != 0)
                {
                    sizes[Bucket(e.RequestedBytes)]++;
                    (long Call, long Ns) birth = (call, e.Timestamp);
                    if (isRealloc && e.Ptr != 0 && born.Remove(e.Ptr, out var old))
                    {
                        birth = old;
                    }

                    born[e.Result] = birth;
                }

                call++;
            }
        }

        string outDir = _dir.File("replay-sqlite");
        var run = CliRunner.Run("replay", trace, "--engine", "sim", "--out", outDir);
        Assert.True(run.ExitCode == 0, run.Stderr);
        TraceSummary summary = ReplayOutputReader.Read(outDir).Trace;
        Assert.Equal(Expected(sizes), Flatten(summary.Sizes!));
        Assert.Equal(Expected(lifetimes), Flatten(summary.LifetimeCalls!));
        Assert.Equal(Expected(lifetimesNs), Flatten(summary.LifetimeNs!));
        Assert.Contains(summary.LifetimeCalls!.Buckets, b => b.Max == 1 && b.Count > 0);   // blocks freed by the next call

        string html = _dir.File("report.html");
        Assert.Equal(0, CliRunner.Run("report", outDir, "-o", html).ExitCode);
        string page = File.ReadAllText(html);
        Assert.Contains("alt=\"sqlite: request sizes\"", page, StringComparison.Ordinal);
        Assert.Contains("alt=\"sqlite: block lifetimes in calls\"", page, StringComparison.Ordinal);
        Assert.Contains("alt=\"sqlite: block lifetimes in time\"", page, StringComparison.Ordinal);
    }

    private static int Bucket(ulong v) => v == 0 ? 0 : BitOperations.Log2(v);

    private static List<(ulong Min, long Count)> Expected(long[] counts) =>
        [.. counts.Select((n, k) => (Min: k == 0 ? 0UL : 1UL << k, Count: n)).Where(x => x.Count > 0)];

    private static List<(ulong Min, long Count)> Flatten(Distribution d) => [.. d.Buckets.Select(b => (b.Min, b.Count))];
}
