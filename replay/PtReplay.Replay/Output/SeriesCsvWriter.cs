using System.Globalization;
using PtReplay.Replay.Metrics;
using PtReplay.Results;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;

namespace PtReplay.Replay.Output;

/// <summary>
/// Writes an engine's time series (series-ENGINE.csv, <see cref="SeriesRow"/>) and its latency table
/// (latency-ENGINE.csv, <see cref="LatencyRow"/>: one row per call kind over all sizes, then per size class).
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

        SeriesCsv.Write(SeriesCsv.PathIn(directory, result.Engine), result.Series.Select(p => p.ToRow()));
        if (result.Latency is not null)
        {
            LatencyCsv.Write(LatencyCsv.PathIn(directory, result.Engine), LatencyRows(result.Latency));
            LatencyBucketsCsv.Write(LatencyBucketsCsv.PathIn(directory, result.Engine), BucketRows(result.Latency));
        }
    }

    /// <summary>The latency table's rows: per kind, "all" then each size class with calls.</summary>
    public static IEnumerable<LatencyRow> LatencyRows(LatencyHistogram latency)
    {
        foreach (EventKind kind in EventKinds.Calls)
        {
            for (int c = -1; c < LatencyHistogram.SizeClasses; c++)
            {
                if (latency.Summarize((int)kind, c) is { } s)
                {
                    yield return new LatencyRow
                    {
                        Kind = kind.CName(),
                        SizeClass = SizeClassName(c),
                        Count = s.Count,
                        P50Ns = Math.Round(s.P50, 1),
                        P90Ns = Math.Round(s.P90, 1),
                        P99Ns = Math.Round(s.P99, 1),
                        P999Ns = Math.Round(s.P999, 1),
                        MaxNs = Math.Round(s.Max, 1),
                    };
                }
            }
        }
    }

    /// <summary>The histogram's non-empty buckets: per kind, "all" then each size class with calls.</summary>
    public static IEnumerable<LatencyBucketRow> BucketRows(LatencyHistogram latency)
    {
        ArgumentNullException.ThrowIfNull(latency);
        foreach (EventKind kind in EventKinds.Calls)
        {
            for (int c = -1; c < LatencyHistogram.SizeClasses; c++)
            {
                long[] counts = latency.Merged((int)kind, c);
                for (int b = 0; b < counts.Length; b++)
                {
                    if (counts[b] == 0)
                    {
                        continue;
                    }

                    ulong low = LatencyHistogram.BucketLow(b), high = LatencyHistogram.BucketHigh(b);
                    yield return new LatencyBucketRow
                    {
                        Kind = kind.CName(),
                        SizeClass = SizeClassName(c),
                        LowNs = Math.Round(low / latency.TicksPerNs, 2),
                        HighNs = Math.Round((high == ulong.MaxValue ? low : high) / latency.TicksPerNs, 2),
                        Count = counts[b],
                    };
                }
            }
        }
    }

    /// <summary>"all", "&lt;=64", ..., "&gt;1048576".</summary>
    public static string SizeClassName(int sizeClass) => RequestSizeClass.Name(sizeClass);
}
