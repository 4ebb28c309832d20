using System.Globalization;
using System.Text.Json;

namespace PtReplay.Results;

/// <summary>Writes and reads sweep.json (<see cref="SweepResults"/>) through the source-generated <see cref="ResultsJsonContext"/>.</summary>
public static class SweepFile
{
    private static ResultsJsonContext Context => ResultsJsonFile.Context;

    /// <summary>Writes <paramref name="results"/> to <paramref name="path"/> (indented, ending with a newline).</summary>
    public static void Write(string path, SweepResults results) => ResultsJsonFile.Write(path, results, Context.SweepResults);

    /// <summary>The results as JSON text.</summary>
    public static string ToJson(SweepResults results) => JsonSerializer.Serialize(results, Context.SweepResults);

    /// <summary>Reads a sweep.json; every problem is a <see cref="ResultsFileException"/> naming the file.</summary>
    public static SweepResults Read(string path)
    {
        SweepResults results = ResultsJsonFile.Read(path, Context.SweepResults, "not sweep results",
            "{0}: not a sweep.json of this version ({1}); is it from `ptreplay sweep` of this build?");
        if (results.Format != SweepResults.CurrentFormat)
        {
            throw new ResultsFileException(string.Create(CultureInfo.InvariantCulture,
                $"{path}: sweep format {results.Format}, this build reads format {SweepResults.CurrentFormat}; run the sweep again"));
        }

        return results;
    }
}
