using PtReplay.Results;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Cli;
using PtReplay.Traces;

namespace PtReplay.Tests.Reports;

/// <summary>
/// live-by-size.csv and the series' recorded times, against the same figures computed here from the recorded events with a
/// plain address table (a block counts in the class of the size its caller asked for, through reallocs), and the report's
/// x axis: call index by default, recorded seconds with <c>--x-axis time</c>.
/// </summary>
public sealed class LiveBySizeTests : IDisposable
{
    // The request size classes as README states them: at most 64 B, 256 B, 1 KiB, 4 KiB, 32 KiB, 128 KiB, 1 MiB, larger.
    private static readonly ulong[] Limits = [64, 256, 1024, 4096, 32768, 131072, 1048576];

    private readonly TempDir _dir = new("ptreplay-live-by-size-");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void LiveBySize_EndsAtTheRecordedLiveSet_AndEveryRowSumsToTheSeriesLiveBytes()
    {
        string trace = RepoFiles.SampleTraces.First(t => t.EndsWith("python.trace", StringComparison.Ordinal));
        string outDir = _dir.NewFolder("replay");
        var replay = CliRunner.Run("replay", trace, "--out", outDir, "--engine", "sim", "--sample-every", "500");
        Assert.True(replay.ExitCode == 0, replay.Stderr);

        // The live set at the end of the recording, by class, and the last event's time, from the events themselves.
        var live = new Dictionary<ulong, ulong>();
        long lastTs = 0;
        using (var reader = TraceReader.Open(trace))
        {
            foreach (AllocEvent e in reader.ReadAll())
            {
                lastTs = e.Timestamp;
                if (!e.Kind.IsCall())
                {
                    continue;
                }

                bool isRealloc = e.Kind is EventKind.Realloc or EventKind.ReallocArray;
                if ((e.Kind == EventKind.Free || isRealloc) && e.Ptr != 0 && (e.Kind == EventKind.Free || e.Result != 0 || e.RequestedBytes == 0))
                {
                    live.Remove(e.Ptr);
                }

                if (e.Kind != EventKind.Free && e.Result != 0)
                {
                    live[e.Result] = e.RequestedBytes;
                }
            }
        }

        var expected = new ulong[8];
        foreach (ulong bytes in live.Values)
        {
            int c = Array.FindIndex(Limits, l => bytes <= l);
            expected[c < 0 ? 7 : c] += bytes;
        }

        IReadOnlyList<LiveBySizeRow> rows = LiveBySizeCsv.Read(LiveBySizeCsv.PathIn(outDir));
        Assert.True(rows.Count > 10, $"only {rows.Count} rows");
        Assert.Equal(expected, rows[^1].ByClass());
        Assert.Equal(lastTs, rows[^1].TimestampNs);
        Assert.True(expected.Count(b => b > 0) >= 3, "the python sample should hold live blocks of at least three size classes at exit");

        // Every row is a sample of the series: the same seq, and the classes add up to its live bytes.
        Dictionary<long, SeriesRow> series = SeriesCsv.Read(SeriesCsv.PathIn(outDir, "sim")).GroupBy(r => r.Seq).ToDictionary(g => g.Key, g => g.Last());
        foreach (LiveBySizeRow row in rows)
        {
            Assert.True(series.TryGetValue(row.Seq, out SeriesRow? s), $"seq {row.Seq} has no series sample");
            Assert.Equal(s.LiveBytes, row.ByClass().Aggregate(0UL, (a, b) => a + b));
            Assert.Equal(s.TimestampNs, row.TimestampNs);
        }

        // Recorded times never go back as the calls go on.
        Assert.True(rows.Zip(rows.Skip(1)).All(p => p.First.Seq < p.Second.Seq && p.First.TimestampNs <= p.Second.TimestampNs));
    }

    [Fact]
    public void Report_DrawsLiveBySize_AndTheXAxisFollowsTheOption()
    {
        string trace = RepoFiles.SampleTraces.First(t => t.EndsWith("sqlite.trace", StringComparison.Ordinal));
        string outDir = _dir.NewFolder("replay-sqlite");
        var replay = CliRunner.Run("replay", trace, "--out", outDir, "--engine", "sim", "--sample-every", "200");
        Assert.True(replay.ExitCode == 0, replay.Stderr);

        string byCalls = _dir.File("calls.html"), byTime = _dir.File("time.html");
        var r1 = CliRunner.Run("report", outDir, "-o", byCalls);
        var r2 = CliRunner.Run("report", outDir, "--x-axis", "time", "-o", byTime);
        Assert.True(r1.ExitCode == 0, r1.Stderr);
        Assert.True(r2.ExitCode == 0, r2.Stderr);
        string calls = Decoded(File.ReadAllText(byCalls)), time = Decoded(File.ReadAllText(byTime));
        Assert.Contains("live bytes by request size", calls, StringComparison.Ordinal);
        Assert.True(HasText(calls, "&lt;=64 B"), "no legend entry for the smallest class"); // inside the embedded SVG
        Assert.True(HasText(calls, "call index"), "no call-index axis by default");
        Assert.False(HasText(calls, "recorded time (s)"), "a recorded-time axis by default");
        Assert.True(HasText(time, "recorded time (s)"), "no recorded-time axis with --x-axis time");
        Assert.False(HasText(time, "call index"), "a call-index axis left with --x-axis time");

        var bad = CliRunner.Run("report", outDir, "--x-axis", "bogus", "-o", _dir.File("bad.html"));
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("calls", bad.Stderr, StringComparison.Ordinal);
    }

    /// <summary>True when an SVG text element (or any element) holds exactly <paramref name="label"/>, whitespace aside.</summary>
    private static bool HasText(string page, string label) =>
        System.Text.RegularExpressions.Regex.IsMatch(page, ">\\s*" + System.Text.RegularExpressions.Regex.Escape(label) + "\\s*<");

    /// <summary>The page with its embedded SVG figures decoded (they are base64 data URIs).</summary>
    private static string Decoded(string page)
    {
        var text = new System.Text.StringBuilder(page);
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(page, "data:image/svg\\+xml;base64,([A-Za-z0-9+/=]+)"))
        {
            text.Append(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(m.Groups[1].Value)));
        }

        return text.ToString();
    }
}
