using PtReplay.Results;
using PtReplay.Results.Findings;

namespace PtReplay.Reports.Input;

/// <summary>
/// Reads a replay output: a folder holding summary.json (and the series CSVs beside it) or the summary.json
/// itself. Every problem is a <see cref="ReportInputException"/> whose message starts with the file's path.
/// </summary>
public static class ReplayOutputReader
{
    /// <summary>The file name `ptreplay replay` writes.</summary>
    public const string SummaryFileName = SummaryFile.FileName;

    /// <summary>Reads the output at <paramref name="path"/> (folder or summary.json); series CSVs only when <paramref name="withSeries"/>.</summary>
    public static ReplayOutput Read(string path, bool withSeries = true)
    {
        string full = Path.GetFullPath(path);
        string summaryPath = Directory.Exists(full) ? Path.Combine(full, SummaryFileName) : full;
        if (!File.Exists(summaryPath))
        {
            throw new ReportInputException(Directory.Exists(full)
                ? $"{summaryPath}: not found; is the folder the --out of `ptreplay replay`?"
                : $"{summaryPath}: not found");
        }

        string folder = Path.GetDirectoryName(summaryPath)!;
        string name = Path.GetFileName(folder);
        if (name.StartsWith("replay-", StringComparison.Ordinal))
        {
            name = name["replay-".Length..];
        }

        try
        {
            ReplaySummary summary = SummaryFile.Read(summaryPath);
            var engines = summary.Engines
                .Select(e => new EngineOutput(e, withSeries && e.Error is null ? SeriesCsv.Read(SeriesCsv.PathIn(folder, e.Engine)) : [])
                {
                    LatencyBuckets = withSeries && e.Error is null ? LatencyBucketsCsv.Read(LatencyBucketsCsv.PathIn(folder, e.Engine)) : [],
                    LatencyRows = withSeries && e.Error is null ? LatencyCsv.Read(LatencyCsv.PathIn(folder, e.Engine)) : [],
                })
                .ToList();
            string findingsPath = Path.Combine(folder, HeapFindingsJson.FileName);
            return new ReplayOutput(name, summaryPath, summary, engines)
            {
                Findings = File.Exists(findingsPath) ? ReadFindings(findingsPath) : null,
                LiveBySize = withSeries ? LiveBySizeCsv.Read(LiveBySizeCsv.PathIn(folder)) : [],
            };
        }
        catch (ResultsFileException ex)
        {
            throw new ReportInputException(ex.Message, ex);
        }
    }

    private static HeapFindingsFile ReadFindings(string path)
    {
        try
        {
            return HeapFindingsJson.Deserialize(File.ReadAllText(path));
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new ReportInputException($"{path}: not a findings.json written by `ptreplay replay --explain`: {ex.Message}", ex);
        }
    }

    /// <summary>Reads series-ENGINE.csv; empty when absent.</summary>
    public static IReadOnlyList<SeriesRow> ReadSeries(string path)
    {
        try
        {
            return SeriesCsv.Read(path);
        }
        catch (ResultsFileException ex)
        {
            throw new ReportInputException(ex.Message, ex);
        }
    }
}
