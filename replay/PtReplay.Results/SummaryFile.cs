using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace PtReplay.Results;

/// <summary>Writes and reads summary.json (<see cref="ReplaySummary"/>) through the source-generated <see cref="ResultsJsonContext"/>.</summary>
public static class SummaryFile
{
    /// <summary>The file name `ptreplay replay` writes into its output folder.</summary>
    public const string FileName = "summary.json";

    // Paths and command lines are written as they are (no \u escapes of '+', '<', non-ASCII, ...).
    private static readonly ResultsJsonContext Context = new(new JsonSerializerOptions(ResultsJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>Writes <paramref name="summary"/> to <paramref name="path"/> (indented, ending with a newline).</summary>
    public static void Write(string path, ReplaySummary summary)
    {
        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, summary, Context.ReplaySummary);
        stream.WriteByte((byte)'\n');
    }

    /// <summary>The summary as JSON text.</summary>
    public static string ToJson(ReplaySummary summary) => JsonSerializer.Serialize(summary, Context.ReplaySummary);

    /// <summary>Reads a summary.json; every problem is a <see cref="ResultsFileException"/> naming the file.</summary>
    public static ReplaySummary Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            ReplaySummary summary = JsonSerializer.Deserialize(stream, Context.ReplaySummary)
                ?? throw new ResultsFileException($"{path}: holds null, not a summary");
            if (summary.Format != ReplaySummary.CurrentFormat)
            {
                throw new ResultsFileException(string.Create(CultureInfo.InvariantCulture,
                    $"{path}: summary format {summary.Format}, this build reads format {ReplaySummary.CurrentFormat}; replay the trace again"));
            }

            return summary;
        }
        catch (JsonException ex)
        {
            throw new ResultsFileException(
                $"{path}: not a summary.json of this version ({ex.Message}); is it from `ptreplay replay` of this build?", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ResultsFileException($"{path}: cannot be read ({ex.Message})", ex);
        }
    }

    /// <summary>Every numeric property of <paramref name="value"/> by its summary.json name, in declaration order.</summary>
    internal static IEnumerable<KeyValuePair<string, double>> Numbers<T>(T? value)
        where T : class
    {
        if (value is null)
        {
            yield break;
        }

        var info = (JsonTypeInfo<T>)Context.GetTypeInfo(typeof(T))!;
        foreach (JsonPropertyInfo property in info.Properties)
        {
            double? number = property.Get?.Invoke(value) switch
            {
                ulong u => u,
                long l => l,
                int i => i,
                double d => d,
                _ => null,
            };
            if (number is { } n)
            {
                yield return new(property.Name, n);
            }
        }
    }
}
