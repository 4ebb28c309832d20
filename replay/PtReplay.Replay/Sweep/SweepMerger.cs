using System.Globalization;
using PtReplay.Results;

namespace PtReplay.Replay.Sweep;

/// <summary>
/// Combines the output folders of a sharded sweep (`sweep --shard K/N -o DIR`, one per K) into the output of one run:
/// the same grid and traces, every (trace, point) once, the best points computed over all of them, and each point's
/// summary.json copied to the same place under the merged folder. Every inconsistency is a
/// <see cref="ResultsFileException"/> naming the folder: a different grid or trace, a point given twice, points missing.
/// </summary>
public static class SweepMerger
{
    /// <summary>Merges the sweeps in <paramref name="folders"/>; with <paramref name="outDir"/> copies their summaries there.</summary>
    public static SweepResults Merge(IReadOnlyList<string> folders, string? outDir)
    {
        ArgumentNullException.ThrowIfNull(folders);
        if (folders.Count == 0)
        {
            throw new ResultsFileException("no sweep folder to merge");
        }

        var parts = folders.Select(f => (Folder: f, Results: SweepFile.Read(Path.Combine(f, SweepResults.FileName)))).ToList();
        SweepResults first = parts[0].Results;
        var seen = new Dictionary<(int Trace, int Point), string>();
        var points = new List<(string Folder, SweepPoint Point)>();
        foreach ((string folder, SweepResults results) in parts)
        {
            if (!SameGrid(first, results))
            {
                throw new ResultsFileException($"{folder}: a sweep of another grid or other traces than {parts[0].Folder}; merge only the shards of one sweep");
            }

            foreach (SweepPoint p in results.Points)
            {
                if (seen.TryGetValue((p.Trace, p.Point), out string? other))
                {
                    throw new ResultsFileException(string.Create(CultureInfo.InvariantCulture,
                        $"{folder}: point {p.Point} of trace {p.Trace} is also in {other}; give each shard once"));
                }

                seen[(p.Trace, p.Point)] = folder;
                points.Add((folder, p));
            }
        }

        var missing = (from t in Enumerable.Range(0, first.Traces.Count)
                       from p in Enumerable.Range(0, first.PointCount)
                       where !seen.ContainsKey((t, p))
                       select p).Distinct().ToList();
        if (missing.Count > 0)
        {
            string shards = first.Shard is { } s
                ? string.Join(", ", missing.Select(p => p % s.N + 1).Distinct().Order().Select(k => string.Create(CultureInfo.InvariantCulture, $"{k}/{s.N}")))
                : "?";
            throw new ResultsFileException(string.Create(CultureInfo.InvariantCulture,
                $"{missing.Count} of {first.PointCount} points missing (first: point {missing[0]}); shards not given: {shards}"));
        }

        var merged = points.OrderBy(x => x.Point.Trace).ThenBy(x => x.Point.Point).ToList();
        if (outDir is not null)
        {
            foreach ((string folder, SweepPoint p) in merged.Where(x => x.Point.Summary is not null))
            {
                string source = Path.GetFullPath(Path.Combine(folder, p.Summary!));
                string target = Path.GetFullPath(Path.Combine(outDir, p.Summary!));
                if (source != target)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    File.Copy(source, target, overwrite: true);
                }
            }
        }

        SweepPoint[] all = [.. merged.Select(x => outDir is null ? x.Point with { Summary = null } : x.Point)];
        return first with { Shard = null, Points = all, Best = SweepBest.Of(all), Validation = null, ValidationNotes = null };
    }

    private static bool SameGrid(SweepResults a, SweepResults b) =>
        a.PointCount == b.PointCount &&
        a.Axes.Count == b.Axes.Count &&
        a.Axes.Zip(b.Axes).All(x => x.First.Name == x.Second.Name && x.First.Values.SequenceEqual(x.Second.Values)) &&
        a.Traces.Count == b.Traces.Count &&
        // Shards may run on other machines, with the traces in other folders: the file name and its figures must agree.
        a.Traces.Zip(b.Traces).All(x => Path.GetFileName(x.First.Path) == Path.GetFileName(x.Second.Path) &&
            x.First with { Path = "" } == x.Second with { Path = "" });
}
