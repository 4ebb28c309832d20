using System.Globalization;
using PtReplay.Results;

namespace PtReplay.Cli.Commands;

/// <summary>The text `ptreplay sweep` prints: per trace, one row per point and the best point of each ranked figure.</summary>
public static class SweepTable
{
    /// <summary>Writes the table of <paramref name="results"/> to <paramref name="output"/>.</summary>
    public static void Print(TextWriter output, SweepResults results)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(results);
        var inv = CultureInfo.InvariantCulture;
        if (results.Shard is { } shard)
        {
            output.WriteLine(string.Create(inv, $"shard {shard.K}/{shard.N}: {results.Points.Count / Math.Max(1, results.Traces.Count)} of {results.PointCount} points"));
        }

        int width = Math.Max(8, results.Points.Select(p => p.Tunables.Length).DefaultIfEmpty(0).Max());
        for (int t = 0; t < results.Traces.Count; t++)
        {
            SweepTrace trace = results.Traces[t];
            output.WriteLine(string.Create(inv, $"{trace.Path}: {trace.Events} events, {trace.Calls} calls, peak live {trace.PeakLiveBytes} B"));
            output.WriteLine(string.Create(inv,
                $"{"point",5}  {"tunables".PadRight(width)}  {"peak footprint",14}  {"peak RSS",12}  {"final RSS",12}  {"rss@peak/live",13}  {"peak rss/live",13}"));
            foreach (SweepPoint p in results.Points.Where(p => p.Trace == t))
            {
                if (p.Memory is not { } m)
                {
                    output.WriteLine(string.Create(inv, $"{p.Point,5}  {p.Tunables.PadRight(width)}  error: {p.Error}"));
                    continue;
                }

                output.WriteLine(string.Create(inv,
                    $"{p.Point,5}  {p.Tunables.PadRight(width)}  {m.PeakFootprintBytes,14}  {m.PeakRssBytes,12}  {m.FinalRssBytes,12}  {m.JwRssAtPeakLiveOverPeakLive,13:0.0000}  {m.JwPeakRssOverPeakLive,13:0.0000}"));
            }

            foreach (SweepBest best in results.Best.Where(b => b.Trace == t))
            {
                string tunables = results.Points.First(p => p.Trace == t && p.Point == best.Point).Tunables;
                output.WriteLine(string.Create(inv, $"best {best.Figure}: point {best.Point} ({tunables}) {best.Value:0.####}"));
            }
        }

        if (results.Validation is not null)
        {
            PrintValidation(output, results);
        }
    }

    /// <summary>
    /// The "validation" section of `sweep --validate`: per trace the agreement, one row per point and figure (model,
    /// glibc, equal), each difference spelled out, then the notes (traces or points not compared).
    /// </summary>
    private static void PrintValidation(TextWriter output, SweepResults results)
    {
        var inv = CultureInfo.InvariantCulture;
        IReadOnlyList<SweepCheck> checks = results.Validation!;
        output.WriteLine("validation: the model's figures against glibc's serial native replay (GLIBC_TUNABLES = the point's tunables)");
        int width = Math.Max(8, checks.Select(c => c.Tunables.Length).DefaultIfEmpty(0).Max());
        for (int t = 0; t < results.Traces.Count; t++)
        {
            var rows = checks.Where(c => c.Trace == t).ToList();
            if (rows.Count > 0)
            {
                int equal = rows.Count(c => c.Equal);
                output.WriteLine(string.Create(inv,
                    $"{results.Traces[t].Path}: {equal} of {rows.Count} figures equal ({100.0 * equal / rows.Count:0.#} %) over {rows.Select(c => c.Point).Distinct().Count()} points"));
                output.WriteLine(string.Create(inv,
                    $"{"point",7}  {"tunables".PadRight(width)}  {"figure",-22}  {"model",12}  {"glibc",12}  equal"));
                foreach (SweepCheck c in rows)
                {
                    string point = c.Point == SweepCheck.DefaultPoint ? "default" : c.Point.ToString(inv);
                    string tunables = c.Tunables.Length == 0 ? "(none)" : c.Tunables;
                    output.WriteLine(string.Create(inv,
                        $"{point,7}  {tunables.PadRight(width)}  {c.Figure,-22}  {c.Model,12}  {c.Glibc,12}  {(c.Equal ? "yes" : "NO")}"));
                }

                foreach (SweepCheck c in rows.Where(c => !c.Equal))
                {
                    string point = c.Point == SweepCheck.DefaultPoint ? "the default point" : string.Create(inv, $"point {c.Point}");
                    output.WriteLine(string.Create(inv, $"differs: {point}, {c.Figure}: the model predicted {c.Model}, glibc measured {c.Glibc}"));
                }
            }

            foreach (SweepCheckNote note in results.ValidationNotes?.Where(n => n.Trace == t) ?? [])
            {
                output.WriteLine($"{results.Traces[t].Path}: {note.Message}");
            }
        }
    }
}
