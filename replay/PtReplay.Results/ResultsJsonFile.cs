using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace PtReplay.Results;

/// <summary>
/// The one way the results' JSON files (summary.json, sweep.json) are written and read: through the source-generated
/// <see cref="ResultsJsonContext"/>, paths and command lines written as they are (no \u escapes of '+', '&lt;', non-ASCII,
/// ...), indented and ending with a newline; every problem reading one is a <see cref="ResultsFileException"/> naming the file.
/// </summary>
internal static class ResultsJsonFile
{
    /// <summary>The context every results file is written and read with.</summary>
    public static readonly ResultsJsonContext Context = new(new JsonSerializerOptions(ResultsJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>Writes <paramref name="value"/> to <paramref name="path"/>.</summary>
    public static void Write<T>(string path, T value, JsonTypeInfo<T> type)
    {
        using var stream = File.Create(path);
        JsonSerializer.Serialize(stream, value, type);
        stream.WriteByte((byte)'\n');
    }

    /// <summary>
    /// Reads <paramref name="path"/>; <paramref name="notNull"/> completes "holds null, ..." and <paramref name="notThis"/>
    /// "not ... of this version (reason); ..." in the errors.
    /// </summary>
    public static T Read<T>(string path, JsonTypeInfo<T> type, string notNull, string notThis)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize(stream, type) ?? throw new ResultsFileException($"{path}: holds null, {notNull}");
        }
        catch (JsonException ex)
        {
            throw new ResultsFileException(string.Format(System.Globalization.CultureInfo.InvariantCulture, notThis, path, ex.Message), ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ResultsFileException($"{path}: cannot be read ({ex.Message})", ex);
        }
    }
}
