using System.Globalization;
using System.Text;
using System.Text.Json;
using PtReplay.Reports.Html;
using PtReplay.Reports.Input;
using PtReplay.Results;

namespace PtReplay.Reports.Compare;

/// <summary>
/// One figure of one engine in two replay outputs; <see cref="Ratio"/> = B / A (null when A is 0). For an engine replayed
/// several times (`replay --repeat`), <see cref="RunsA"/> and <see cref="RunsB"/> hold each run's value of a figure that
/// varies by run (latency, wall time, and a memory figure whose runs differ), and A and B are the medians over the runs.
/// </summary>
public sealed record FigureComparison(string Engine, string Figure, double A, double B)
{
    /// <summary>The figure in each of A's runs, or null when A ran the engine once or the figure is the same in every run.</summary>
    public IReadOnlyList<double>? RunsA { get; init; }

    /// <summary>The figure in each of B's runs (as <see cref="RunsA"/>).</summary>
    public IReadOnlyList<double>? RunsB { get; init; }

    /// <summary>B / A, or null when A is 0 (a ratio would be meaningless).</summary>
    public double? Ratio => A == 0 ? (B == 0 ? 1 : null) : B / A;
}

/// <summary>
/// Two replay outputs side by side: every numeric figure of every engine present in both (engine figures, then
/// latency as "latency.KIND.pNN"), with the ratio B / A. Engines in only one output, or failed in either, are
/// listed in <see cref="Notes"/>, and so is each engine replayed several times on either side, with its run counts.
/// </summary>
public sealed class Comparison
{
    private Comparison(ReplayOutput a, ReplayOutput b, List<FigureComparison> rows, List<string> notes)
    {
        A = a;
        B = b;
        Rows = rows;
        Notes = notes;
    }

    /// <summary>The baseline side.</summary>
    public ReplayOutput A { get; }

    /// <summary>The side compared with it.</summary>
    public ReplayOutput B { get; }

    /// <summary>One row per engine and figure, engines in A's order.</summary>
    public IReadOnlyList<FigureComparison> Rows { get; }

    /// <summary>Engines that could not be compared, and why.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Compares two outputs.</summary>
    public static Comparison Of(ReplayOutput a, ReplayOutput b)
    {
        var rows = new List<FigureComparison>();
        var notes = new List<string>();
        foreach (EngineOutput ea in a.Engines)
        {
            EngineOutput? eb = b.Engines.FirstOrDefault(e => e.Engine == ea.Engine);
            if (eb is null)
            {
                notes.Add($"{ea.Engine}: only in A");
                continue;
            }

            if (ea.Error is not null || eb.Error is not null)
            {
                EngineOutput failed = ea.Error is not null ? ea : eb;
                notes.Add($"{ea.Engine}: {(failed.Summary.Skipped ? "skipped" : "error")} in {(ea.Error is not null ? "A" : "B")}: {failed.Error}");
                continue;
            }

            foreach (var (name, va) in Flatten(ea))
            {
                foreach (var (nb, vb) in Flatten(eb))
                {
                    if (nb == name)
                    {
                        rows.Add(Row(ea, eb, name, va, vb));
                        break;
                    }
                }
            }
        }

        notes.AddRange(b.Engines.Where(eb => a.Engines.All(ea => ea.Engine != eb.Engine)).Select(eb => $"{eb.Engine}: only in B"));
        foreach (EngineOutput ea in a.Engines)
        {
            int runsA = ea.Summary.Runs?.Count ?? 1;
            int runsB = b.Engines.FirstOrDefault(e => e.Engine == ea.Engine)?.Summary.Runs?.Count ?? 1;
            if ((runsA > 1 || runsB > 1) && rows.Any(r => r.Engine == ea.Engine))
            {
                notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{ea.Engine}: {runsA} run(s) in A, {runsB} in B; latency and wall time are medians over the runs"));
            }
        }

        return new Comparison(a, b, rows, notes);
    }

    private static IEnumerable<(string Name, double Value)> Flatten(EngineOutput e)
    {
        foreach (var (k, v) in e.Figures)
        {
            yield return (k, v);
        }

        foreach (var (kind, l) in e.Latency)
        {
            foreach (var (p, v) in l.Named())
            {
                yield return ($"latency.{kind}.{p}", v);
            }
        }
    }

    /// <summary>
    /// One row; with repeated runs, each run's value of a figure that varies by run: latency and wall time always, a memory
    /// figure when its runs differ on either side (jemalloc's, not a serial glibc replay's). Such a memory figure's A and B
    /// are then the medians over the runs (the top-level figure is run 1's); latency's already are.
    /// </summary>
    private static FigureComparison Row(EngineOutput ea, EngineOutput eb, string figure, double va, double vb)
    {
        IReadOnlyList<double>? ra = RunValues(ea, figure), rb = RunValues(eb, figure);
        bool varies = RunStatistics.VariesByRun(figure);
        if (!varies && !Differ(ra) && !Differ(rb))
        {
            return new FigureComparison(ea.Engine, figure, va, vb);
        }

        return new FigureComparison(ea.Engine, figure,
            varies || ra is null ? va : RunStatistics.Median(ra),
            varies || rb is null ? vb : RunStatistics.Median(rb))
        {
            RunsA = ra,
            RunsB = rb,
        };
    }

    private static IReadOnlyList<double>? RunValues(EngineOutput e, string figure) =>
        e.Summary.Runs is { Count: > 1 } runs ? RunStatistics.Values(runs, figure) : null;

    private static bool Differ(IReadOnlyList<double>? values) => values is { Count: > 1 } && values.Any(v => v != values[0]);

    /// <summary>A text table: engine, figure, A, B, B/A.</summary>
    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"A: {A.SummaryPath}");
        sb.AppendLine(inv, $"B: {B.SummaryPath}");
        sb.AppendLine(inv, $"{"engine",-10} {"figure",-42} {"A",18} {"B",18} {"B/A",9}");
        foreach (FigureComparison r in Rows)
        {
            string ratio = r.Ratio is { } x ? x.ToString("0.000", inv) : "n/a";
            sb.AppendLine(inv, $"{r.Engine,-10} {r.Figure,-42} {Figures.Format(r.Figure, r.A),18} {Figures.Format(r.Figure, r.B),18} {ratio,9}");
        }

        foreach (string note in Notes)
        {
            sb.AppendLine(inv, $"note: {note}");
        }

        return sb.ToString();
    }

    private static void WriteRuns(Utf8JsonWriter w, string name, IReadOnlyList<double>? runs)
    {
        if (runs is null)
        {
            return;
        }

        w.WriteStartArray(name);
        foreach (double v in runs)
        {
            w.WriteNumberValue(v);
        }

        w.WriteEndArray();
    }

    /// <summary>
    /// JSON: { "a": path, "b": path, "engines": { ENGINE: { FIGURE: { a, b, ratio, runs_a?, runs_b? } } }, "notes": [...] };
    /// runs_a and runs_b are each run's value of a figure that varies by run, for engines replayed several times.
    /// </summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("a", A.SummaryPath);
            w.WriteString("b", B.SummaryPath);
            w.WriteStartObject("engines");
            foreach (var group in Rows.GroupBy(r => r.Engine))
            {
                w.WriteStartObject(group.Key);
                foreach (FigureComparison r in group)
                {
                    w.WriteStartObject(r.Figure);
                    w.WriteNumber("a", r.A);
                    w.WriteNumber("b", r.B);
                    if (r.Ratio is { } x)
                    {
                        w.WriteNumber("ratio", Math.Round(x, 6));
                    }
                    else
                    {
                        w.WriteNull("ratio");
                    }

                    WriteRuns(w, "runs_a", r.RunsA);
                    WriteRuns(w, "runs_b", r.RunsB);

                    w.WriteEndObject();
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteStartArray("notes");
            foreach (string note in Notes)
            {
                w.WriteStringValue(note);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
