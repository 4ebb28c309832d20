using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace PtReplay.Results;

/// <summary>Writes and reads sweep.json (<see cref="SweepResults"/>) through the source-generated <see cref="ResultsJsonContext"/>.</summary>
public static class SweepFile
{
    // Paths are written as they are (no \u escapes of '+', '<', non-ASCII, ...).
    private static readonly ResultsJsonContext Context = new(new JsonSerializerOptions(ResultsJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>Writes <paramref name="results"/> to <paramref name="path"/> (indented, ending with a newline).</summary>
    public static void Write(string path, SweepResults results)
    {
        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, results, Context.SweepResults);
        stream.WriteByte((byte)'\n');
    }

    /// <summary>The results as JSON text.</summary>
    public static string ToJson(SweepResults results) => JsonSerializer.Serialize(results, Context.SweepResults);

    /// <summary>Reads a sweep.json; every problem is a <see cref="ResultsFileException"/> naming the file.</summary>
    public static SweepResults Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            SweepResults results = JsonSerializer.Deserialize(stream, Context.SweepResults)
                ?? throw new ResultsFileException($"{path}: holds null, not sweep results");
            if (results.Format != SweepResults.CurrentFormat)
            {
                throw new ResultsFileException(string.Create(CultureInfo.InvariantCulture,
                    $"{path}: sweep format {results.Format}, this build reads format {SweepResults.CurrentFormat}; run the sweep again"));
            }

            return results;
        }
        catch (JsonException ex)
        {
            throw new ResultsFileException($"{path}: not a sweep.json of this version ({ex.Message}); is it from `ptreplay sweep` of this build?", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ResultsFileException($"{path}: cannot be read ({ex.Message})", ex);
        }
    }
}
