using System.Text.Json;
using PtReplay.Reports.Input;
using PtReplay.Results;

namespace PtReplay.Reports.Gate;

/// <summary>
/// The committed baseline of the regression gate (reports/baseline/model-baseline.json):
/// <code>
/// { "about": "...",
///   "traces": { "python.trace": { "peak_live_bytes": 123, ..., "parity_identical": 9, "parity_allocations": 9 }, ... } }
/// </code>
/// Traces are keyed by file name, so the baseline does not depend on where the repository is checked out.
/// Written only by `ptreplay gate --update`.
/// </summary>
public sealed class ModelBaseline
{
    private const string About =
        "Deterministic figures of the C# ptmalloc model (engine sim, serial, touch=page) per trace, and its address parity " +
        "with the recording. Compared with exact equality by `ptreplay gate`; regenerate with `ptreplay gate --update`.";

    /// <summary>Figures per trace file name.</summary>
    public SortedDictionary<string, IReadOnlyDictionary<string, long>> Traces { get; } = new(StringComparer.Ordinal);

    /// <summary>The key of a trace path in the baseline: its file name.</summary>
    public static string Key(string tracePath) => Path.GetFileName(tracePath);

    /// <summary>Reads a baseline; problems name the file.</summary>
    public static ModelBaseline Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new ReportInputException($"{path}: baseline not found (create it with `ptreplay gate --baseline {path} --update TRACE...`)");
        }

        var baseline = new ModelBaseline();
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (!doc.RootElement.TryGetProperty("traces", out JsonElement traces) || traces.ValueKind != JsonValueKind.Object)
            {
                throw new ReportInputException($"{path}: no \"traces\" object; is it a baseline written by `ptreplay gate --update`?");
            }

            foreach (JsonProperty trace in traces.EnumerateObject())
            {
                var figures = new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (JsonProperty f in trace.Value.EnumerateObject())
                {
                    if (f.Value.ValueKind != JsonValueKind.Number || !f.Value.TryGetInt64(out long v))
                    {
                        throw new ReportInputException($"{path}: traces.{trace.Name}.{f.Name} is not an integer");
                    }

                    figures[f.Name] = v;
                }

                baseline.Traces[trace.Name] = figures;
            }
        }
        catch (JsonException ex)
        {
            throw new ReportInputException($"{path}: not valid JSON ({ex.Message})", ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new ReportInputException($"{path}: unexpected shape ({ex.Message})", ex);
        }

        return baseline;
    }

    /// <summary>Writes the baseline (indented, traces sorted by name, figures in <see cref="GateFigures.Names"/> order).</summary>
    public void Write(string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null)
        {
            Directory.CreateDirectory(dir);
        }

        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        w.WriteStartObject();
        w.WriteString("about", About);
        w.WriteStartObject("traces");
        foreach (var (name, figures) in Traces)
        {
            w.WriteStartObject(name);
            foreach (string f in GateFigures.Names.Where(figures.ContainsKey).Concat(figures.Keys.Where(k => !GateFigures.Names.Contains(k))))
            {
                w.WriteNumber(f, figures[f]);
            }

            w.WriteEndObject();
        }

        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
        stream.WriteByte((byte)'\n');
    }
}
