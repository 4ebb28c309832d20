using System.Globalization;
using System.Text.Json;

namespace PtReplay.Reports.Input;

/// <summary>
/// Reads a replay output: a folder holding summary.json (and the series CSVs beside it) or the summary.json
/// itself. Every problem is a <see cref="ReportInputException"/> whose message starts with the file's path.
/// </summary>
public static class ReplayOutputReader
{
    /// <summary>The file name `ptreplay replay` writes.</summary>
    public const string SummaryFileName = "summary.json";

    /// <summary>Reads the output at <paramref name="path"/> (folder or summary.json); series CSVs only when <paramref name="withSeries"/>.</summary>
    public static ReplayOutput Read(string path, bool withSeries = true)
    {
        string full = Path.GetFullPath(path);
        string summaryPath = Directory.Exists(full) ? Path.Combine(full, SummaryFileName) : full;
        if (!File.Exists(summaryPath))
        {
            ThrowMissing(summaryPath, Directory.Exists(full));
        }

        string folder = Path.GetDirectoryName(summaryPath)!;
        string name = Path.GetFileName(folder);
        if (name.StartsWith("replay-", StringComparison.Ordinal))
        {
            name = name["replay-".Length..];
        }

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(summaryPath));
            JsonElement root = doc.RootElement;
            JsonElement trace = Required(root, "trace", JsonValueKind.Object, summaryPath);
            JsonElement engines = Required(root, "engines", JsonValueKind.Object, summaryPath);
            var options = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("options", out JsonElement opts) && opts.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty p in opts.EnumerateObject())
                {
                    options[p.Name] = OptionText(p.Value);
                }
            }

            var list = new List<EngineSummary>();
            IReadOnlyList<KeyValuePair<string, long>>? counts = null;
            foreach (JsonProperty engine in engines.EnumerateObject())
            {
                if (engine.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new ReportInputException($"{summaryPath}: engine \"{engine.Name}\" is not an object");
                }

                if (engine.Value.TryGetProperty("error", out JsonElement error))
                {
                    list.Add(new EngineSummary(engine.Name, error.ToString(), [], [], []));
                    continue;
                }

                counts ??= ReadCounts(engine.Value);
                IReadOnlyList<SeriesSample> series = withSeries ? ReadSeries(Path.Combine(folder, $"series-{engine.Name}.csv")) : [];
                list.Add(new EngineSummary(engine.Name, null, Numbers(engine.Value), ReadLatency(engine.Value, summaryPath), series));
            }

            string tracePath = trace.TryGetProperty("path", out JsonElement tp) ? tp.ToString() : "";
            return new ReplayOutput(name, summaryPath, new TraceFacts(tracePath, Numbers(trace), counts ?? []), options, list);
        }
        catch (JsonException ex)
        {
            throw new ReportInputException($"{summaryPath}: not valid JSON ({ex.Message}); is it a summary.json from `ptreplay replay`?", ex);
        }
        catch (IOException ex)
        {
            throw new ReportInputException($"{summaryPath}: cannot be read ({ex.Message})", ex);
        }
    }

    private static void ThrowMissing(string summaryPath, bool folderExists) =>
        throw new ReportInputException(folderExists
            ? $"{summaryPath}: not found; is the folder the --out of `ptreplay replay`?"
            : $"{summaryPath}: not found");

    private static JsonElement Required(JsonElement parent, string name, JsonValueKind kind, string file)
    {
        if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out JsonElement value) || value.ValueKind != kind)
        {
            throw new ReportInputException($"{file}: missing \"{name}\" {kind.ToString().ToLowerInvariant()}; is it a summary.json from `ptreplay replay`?");
        }

        return value;
    }

    private static List<KeyValuePair<string, double>> Numbers(JsonElement obj)
    {
        var list = new List<KeyValuePair<string, double>>();
        foreach (JsonProperty p in obj.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.Number)
            {
                list.Add(new(p.Name, p.Value.GetDouble()));
            }
        }

        return list;
    }

    private static List<KeyValuePair<string, long>> ReadCounts(JsonElement engine)
    {
        var list = new List<KeyValuePair<string, long>>();
        if (engine.TryGetProperty("counts", out JsonElement counts) && counts.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty p in counts.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Number && p.Value.GetInt64() > 0)
                {
                    list.Add(new(p.Name, p.Value.GetInt64()));
                }
            }
        }

        return list;
    }

    private static List<KeyValuePair<string, LatencyFigures>> ReadLatency(JsonElement engine, string file)
    {
        var list = new List<KeyValuePair<string, LatencyFigures>>();
        if (!engine.TryGetProperty("latency_ns", out JsonElement latency) || latency.ValueKind != JsonValueKind.Object)
        {
            return list;
        }

        foreach (JsonProperty kind in latency.EnumerateObject())
        {
            JsonElement k = kind.Value;
            try
            {
                list.Add(new(kind.Name, new LatencyFigures(
                    k.GetProperty("p50").GetDouble(), k.GetProperty("p90").GetDouble(), k.GetProperty("p99").GetDouble(),
                    k.GetProperty("p999").GetDouble(), k.GetProperty("max").GetDouble(), k.GetProperty("count").GetInt64())));
            }
            catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new ReportInputException($"{file}: latency_ns.{kind.Name} lacks p50/p90/p99/p999/max/count", ex);
            }
        }

        return list;
    }

    /// <summary>Reads series-ENGINE.csv (seq, live_bytes, footprint_bytes, rss_bytes, fragmentation); empty when absent.</summary>
    public static IReadOnlyList<SeriesSample> ReadSeries(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        var samples = new List<SeriesSample>();
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (line == 1 || text.Length == 0)
            {
                continue;   // header
            }

            string[] f = text.Split(',');
            var inv = CultureInfo.InvariantCulture;
            if (f.Length < 5
                || !long.TryParse(f[0], inv, out long seq) || !long.TryParse(f[1], inv, out long live)
                || !long.TryParse(f[2], inv, out long footprint) || !long.TryParse(f[3], inv, out long rss)
                || !double.TryParse(f[4], NumberStyles.Float, inv, out double frag))
            {
                throw new ReportInputException($"{path}:{line}: expected seq,live_bytes,footprint_bytes,rss_bytes,fragmentation, got \"{text}\"");
            }

            samples.Add(new SeriesSample(seq, live, footprint, rss, frag));
        }

        return samples;
    }

    /// <summary>
    /// One option as the report shows it: strings as they are; an object with "bytes", "mode" and "source"
    /// (the sim preamble) as "3040 B (auto, glibc_run)"; anything else as its JSON text.
    /// </summary>
    private static string OptionText(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString() ?? "";
        }

        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("bytes", out JsonElement bytes) &&
            value.TryGetProperty("mode", out JsonElement mode) && value.TryGetProperty("source", out JsonElement source))
        {
            return $"{bytes.GetRawText()} B ({mode.GetString()}, {source.GetString()})";
        }

        return value.GetRawText();
    }
}
