using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace PtReplay.Results;

/// <summary>Writes and reads summary.json (<see cref="ReplaySummary"/>) through the source-generated <see cref="ResultsJsonContext"/>.</summary>
public static class SummaryFile
{
    /// <summary>The file name `ptreplay replay` writes into its output folder.</summary>
    public const string FileName = "summary.json";

    private static ResultsJsonContext Context => ResultsJsonFile.Context;

    /// <summary>Writes <paramref name="summary"/> to <paramref name="path"/> (indented, ending with a newline).</summary>
    public static void Write(string path, ReplaySummary summary) => ResultsJsonFile.Write(path, summary, Context.ReplaySummary);

    /// <summary>The summary as JSON text.</summary>
    public static string ToJson(ReplaySummary summary) => JsonSerializer.Serialize(summary, Context.ReplaySummary);

    /// <summary>Reads a summary.json; every problem is a <see cref="ResultsFileException"/> naming the file.</summary>
    public static ReplaySummary Read(string path)
    {
        ReplaySummary summary = ResultsJsonFile.Read(path, Context.ReplaySummary, "not a summary",
            "{0}: not a summary.json of this version ({1}); is it from `ptreplay replay` of this build?");
        if (summary.Format != ReplaySummary.CurrentFormat)
        {
            throw new ResultsFileException(string.Create(CultureInfo.InvariantCulture,
                $"{path}: summary format {summary.Format}, this build reads format {ReplaySummary.CurrentFormat}; replay the trace again"));
        }

        return summary;
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
