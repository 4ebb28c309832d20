using System.Globalization;
using CsvHelper;
using PtReplay.Replay.Metrics;
using PtReplay.Traces;

namespace PtReplay.Replay.Output;

/// <summary>
/// Writes an engine's time series (series-ENGINE.csv: seq, live_bytes, footprint_bytes, rss_bytes,
/// fragmentation) and its latency table (latency-ENGINE.csv: kind, size_class, count, p50_ns ... max_ns).
/// </summary>
public static class SeriesCsvWriter
{
    /// <summary>Writes both files for one engine into <paramref name="directory"/>; nothing for a failed engine.</summary>
    public static void Write(string directory, EngineResult result)
    {
        if (result.Error is not null)
        {
            return;
        }

        using (var writer = new StreamWriter(Path.Combine(directory, $"series-{result.Engine}.csv")))
        using (var csv = CsvWriter.Create(writer, null, false))
        {
            csv.WriteRecord(["seq", "live_bytes", "footprint_bytes", "rss_bytes", "fragmentation"]);
            foreach (SeriesPoint p in result.Series)
            {
                csv.WriteRecord([
                    Num(p.Seq), Num(p.LiveBytes), Num(p.FootprintBytes), Num(p.RssBytes),
                    p.Fragmentation.ToString("0.######", CultureInfo.InvariantCulture),
                ]);
            }
        }

        if (result.Latency is null)
        {
            return;
        }

        using (var writer = new StreamWriter(Path.Combine(directory, $"latency-{result.Engine}.csv")))
        using (var csv = CsvWriter.Create(writer, null, false))
        {
            csv.WriteRecord(["kind", "size_class", "count", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"]);
            foreach (EventKind kind in EventKinds.Calls)
            {
                for (int c = -1; c < LatencyHistogram.SizeClasses; c++)
                {
                    LatencySummary? s = result.Latency.Summarize((int)kind, c);
                    if (s is null)
                    {
                        continue;
                    }

                    csv.WriteRecord([
                        kind.CName(), SizeClassName(c), Num(s.Count),
                        Ns(s.P50), Ns(s.P90), Ns(s.P99), Ns(s.P999), Ns(s.Max),
                    ]);
                }
            }
        }
    }

    private static string Num(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Num(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Ns(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

    /// <summary>"all", "<=64", ..., ">1048576".</summary>
    public static string SizeClassName(int sizeClass) => sizeClass switch
    {
        < 0 => "all",
        < LatencyHistogram.SizeClasses - 1 => "<=" + LatencyHistogram.SizeClassLimits[sizeClass].ToString(CultureInfo.InvariantCulture),
        _ => ">" + LatencyHistogram.SizeClassLimits[^1].ToString(CultureInfo.InvariantCulture),
    };
}
