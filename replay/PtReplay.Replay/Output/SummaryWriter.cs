using System.Text.Json;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Traces;

namespace PtReplay.Replay.Output;

/// <summary>
/// Writes DIR/summary.json:
/// <code>
/// { "trace":   { path, events, calls, ops, threads, slots, peak_live_bytes, final_live_bytes, issues_total, issues: [...] },
///   "options": { threads, touch, tunables, sample_every, sim_preamble: { mode, bytes, source, setup_heap_bytes?, reason } },
///   "engines": { "glibc": { peak_live_bytes, peak_footprint_bytes, peak_rss_bytes, final_footprint_bytes,
///                           final_rss_bytes, latency_ns: { "malloc": { p50, p90, p99, p999, max, count } ... }, ... },
///                "jemalloc": { "error": "..." } } }
/// </code>
/// </summary>
public static class SummaryWriter
{
    /// <summary>Writes the summary.</summary>
    public static void Write(string path, string tracePath, PreparedTrace trace, ReplayOptions options, long sampleEvery,
        string? tunables, IReadOnlyList<EngineResult> results, SimPreambleDecision? simPreamble = null)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();

        w.WriteStartObject("trace");
        w.WriteString("path", tracePath);
        w.WriteNumber("events", trace.EventCount);
        w.WriteNumber("calls", trace.CallCount);
        w.WriteNumber("ops", trace.OpCount);
        w.WriteNumber("threads", trace.ThreadCount);
        w.WriteNumber("slots", trace.SlotCount);
        w.WriteNumber("peak_live_bytes", trace.PeakLiveBytes);
        w.WriteNumber("final_live_bytes", trace.FinalLiveBytes);
        w.WriteNumber("issues_total", trace.IssueCount);
        w.WriteStartArray("issues");
        foreach (TraceIssue issue in trace.Issues)
        {
            w.WriteStartObject();
            w.WriteNumber("event_index", issue.EventIndex);
            w.WriteString("kind", issue.Kind.ToString());
            w.WriteString("message", issue.Message);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartObject("options");
        w.WriteString("threads", options.Threads.ToString().ToLowerInvariant());
        w.WriteString("touch", options.Touch.ToString().ToLowerInvariant());
        w.WriteString("tunables", tunables ?? "");
        w.WriteNumber("sample_every", sampleEvery);
        if (simPreamble is not null)
        {
            SimPreambleJson.Write(w, simPreamble);
        }

        w.WriteEndObject();

        w.WriteStartObject("engines");
        foreach (EngineResult r in results)
        {
            w.WriteStartObject(r.Engine);
            if (r.Error is not null)
            {
                w.WriteString("error", r.Error);
                w.WriteEndObject();
                continue;
            }

            w.WriteNumber("peak_live_bytes", r.PeakLiveBytes);
            w.WriteNumber("final_live_bytes", r.FinalLiveBytes);
            w.WriteNumber("peak_footprint_bytes", r.PeakFootprintBytes);
            w.WriteNumber("footprint_at_peak_live_bytes", r.FootprintAtPeakLiveBytes);
            w.WriteNumber("peak_rss_bytes", r.PeakRssBytes);
            w.WriteNumber("final_footprint_bytes", r.FinalFootprintBytes);
            w.WriteNumber("final_rss_bytes", r.FinalRssBytes);
            w.WriteNumber("final_fragmentation", Round(r.Series.Count > 0 ? r.Series[^1].Fragmentation : 0));
            w.WriteNumber("peak_fragmentation", Round(r.Series.Count > 0 ? r.Series.Max(p => p.Fragmentation) : 0));
            w.WriteNumber("jw_footprint_at_peak_live_over_peak_live", Round(r.FootprintAtPeakLiveRatio));
            w.WriteNumber("jw_peak_footprint_over_peak_live", Round(r.PeakFootprintRatio));
            w.WriteNumber("calls", r.Calls);
            w.WriteNumber("wall_ns", r.WallNs);
            w.WriteString("footprint_source", r.FootprintSource);
            w.WriteString("rss_source", r.RssSource);

            w.WriteStartObject("latency_ns");
            foreach (EventKind kind in EventKinds.Calls)
            {
                LatencySummary? s = r.Latency?.Summarize((int)kind);
                if (s is null)
                {
                    continue;
                }

                w.WriteStartObject(kind.CName());
                w.WriteNumber("p50", Round(s.P50));
                w.WriteNumber("p90", Round(s.P90));
                w.WriteNumber("p99", Round(s.P99));
                w.WriteNumber("p999", Round(s.P999));
                w.WriteNumber("max", Round(s.Max));
                w.WriteNumber("count", s.Count);
                w.WriteEndObject();
            }

            w.WriteEndObject();

            EventKindJson.WriteCounts(w, "counts", EventKinds.Calls, kind => trace.CallsByKind[(int)kind]);

            w.WriteStartObject("extra");
            foreach (var (key, value) in r.Extra)
            {
                w.WriteNumber(key, Round(value));
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static double Round(double v) => double.IsFinite(v) ? Math.Round(v, 4) : 0;
}
