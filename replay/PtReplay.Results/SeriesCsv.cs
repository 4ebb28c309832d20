using System.Globalization;
using CsvHelper;

namespace PtReplay.Results;

/// <summary>Writes and reads series-ENGINE.csv (<see cref="SeriesRow"/>).</summary>
public static class SeriesCsv
{
    /// <summary>The series file of <paramref name="engine"/> in a replay output folder.</summary>
    public static string PathIn(string directory, string engine) => Path.Combine(directory, $"series-{engine}.csv");

    /// <summary>Writes the rows with a header line.</summary>
    public static void Write(string path, IEnumerable<SeriesRow> rows) => CsvFiles.Write(path, rows);

    /// <summary>Reads the rows; empty when the file is absent; a malformed line is a <see cref="ResultsFileException"/> naming file and record.</summary>
    public static IReadOnlyList<SeriesRow> Read(string path) => CsvFiles.Read<SeriesRow>(path);
}

/// <summary>Writes and reads latency-ENGINE.csv (<see cref="LatencyRow"/>).</summary>
public static class LatencyCsv
{
    /// <summary>The latency file of <paramref name="engine"/> in a replay output folder.</summary>
    public static string PathIn(string directory, string engine) => Path.Combine(directory, $"latency-{engine}.csv");

    /// <summary>Writes the rows with a header line.</summary>
    public static void Write(string path, IEnumerable<LatencyRow> rows) => CsvFiles.Write(path, rows);

    /// <summary>Reads the rows; empty when the file is absent.</summary>
    public static IReadOnlyList<LatencyRow> Read(string path) => CsvFiles.Read<LatencyRow>(path);
}

/// <summary>Writes and reads latency-buckets-ENGINE.csv (<see cref="LatencyBucketRow"/>).</summary>
public static class LatencyBucketsCsv
{
    /// <summary>The latency buckets file of <paramref name="engine"/> in a replay output folder.</summary>
    public static string PathIn(string directory, string engine) => Path.Combine(directory, $"latency-buckets-{engine}.csv");

    /// <summary>Writes the rows with a header line.</summary>
    public static void Write(string path, IEnumerable<LatencyBucketRow> rows) => CsvFiles.Write(path, rows);

    /// <summary>Reads the rows; empty when the file is absent.</summary>
    public static IReadOnlyList<LatencyBucketRow> Read(string path) => CsvFiles.Read<LatencyBucketRow>(path);
}

/// <summary>The CSV dialect of every results file: comma, invariant culture, a header line, "\n" line ends.</summary>
internal static class CsvFiles
{
    private static readonly CsvWriterOptions WriterOptions = new() { NewLine = "\n", FormatProvider = CultureInfo.InvariantCulture };
    private static readonly CsvReaderOptions ReaderOptions = new() { Separator = ',', FormatProvider = CultureInfo.InvariantCulture };

    public static void Write<T>(string path, IEnumerable<T> rows)
    {
        using var writer = new StreamWriter(path);
        using var csv = CsvWriter.Create(writer, WriterOptions, false);
        csv.WriteRecords(rows);
    }

    public static List<T> Read<T>(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            using var reader = new StreamReader(path);
            using var csv = CsvReader.Create(reader, ReaderOptions, false);
            return [.. csv.GetRecords<T>()];
        }
        catch (CsvFormatException ex)
        {
            throw new ResultsFileException(string.Create(CultureInfo.InvariantCulture,
                $"{path}: record {ex.RecordNumber}: not a {typeof(T).Name} of this version: {ex.Message}"), ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ResultsFileException($"{path}: cannot be read ({ex.Message})", ex);
        }
    }
}
