using System.Globalization;
using System.Text;
using PtReplay.Reports.Html;
using PtReplay.Results;

namespace PtReplay.Reports.Compare;

/// <summary>
/// One figure judged against a <see cref="FigureLimit"/>: A, B, the ceiling B had to stay at or below, and the verdict.
/// A figure that varies by run (latency, wall time, a memory figure whose runs differ) with at least <see cref="ShiftTest.MinRuns"/> runs on both sides is
/// judged by <see cref="Shift"/>, a test over the runs; with fewer it is <see cref="SingleValue"/>: B's figure (a median over
/// runs, or the one run's) against the ceiling, like every deterministic figure (live bytes, the model's, a memory figure
/// equal in every run), which is compared exactly.
/// Invariant: at most one of <see cref="Shift"/> and <see cref="SingleValue"/>.
/// </summary>
/// <param name="Row">The compared figure.</param>
/// <param name="Limit">The limit that applied.</param>
/// <param name="Ceiling">The largest B allowed.</param>
public sealed record LimitCheck(FigureComparison Row, FigureLimit Limit, double Ceiling)
{
    /// <summary>The test over the runs, when both sides had enough of them.</summary>
    public ShiftTestResult? Shift { get; init; }

    /// <summary>True for a figure that varies by run judged on one value per side (too few runs for the test).</summary>
    public bool SingleValue { get; init; }

    /// <summary>True when B is beyond the limit: significantly above A raised by it (<see cref="Shift"/>), else above the ceiling.</summary>
    public bool Failed => Shift is { } s ? s.Significant : Row.B > Ceiling;

    /// <summary>How the figure was judged, for the text and the Markdown table.</summary>
    public string Test
    {
        get
        {
            var inv = CultureInfo.InvariantCulture;
            if (Shift is { } s)
            {
                return string.Create(inv, $"Mann-Whitney, {s.RunsA} vs {s.RunsB} runs, p = {s.PValue:0.0000}");
            }

            return SingleValue
                ? string.Create(inv, $"single value ({Row.RunsA?.Count ?? 1} vs {Row.RunsB?.Count ?? 1} runs, the test needs {ShiftTest.MinRuns} a side)")
                : "exact";
        }
    }

    /// <summary>B's change from A in percent, or null when A is 0.</summary>
    public double? ChangePercent => Row.A == 0 ? null : (Row.B - Row.A) / Row.A * 100;
}

/// <summary>
/// A comparison judged against <c>--fail-on</c> limits: every row a limit matches is checked; the check fails when any B
/// exceeds its ceiling, or when a limit matches no figure at all (a misspelt name must not pass silently).
/// Invariant: <see cref="Failed"/> = any <see cref="LimitCheck.Failed"/> or any <see cref="Unmatched"/>.
/// </summary>
public sealed class RegressionCheck
{
    private RegressionCheck(Comparison comparison, List<LimitCheck> checks, List<FigureLimit> unmatched, string? programWarning)
    {
        Comparison = comparison;
        Checks = checks;
        Unmatched = unmatched;
        ProgramWarning = programWarning;
    }

    /// <summary>The comparison judged.</summary>
    public Comparison Comparison { get; }

    /// <summary>One check per (limit, matching row), in the comparison's row order.</summary>
    public IReadOnlyList<LimitCheck> Checks { get; }

    /// <summary>Limits that matched no figure of any engine present in both outputs.</summary>
    public IReadOnlyList<FigureLimit> Unmatched { get; }

    /// <summary>Set when A and B are recordings of different programs (their command lines differ).</summary>
    public string? ProgramWarning { get; }

    /// <summary>True when the comparison must fail a CI job.</summary>
    public bool Failed => Checks.Any(c => c.Failed) || Unmatched.Count > 0;

    /// <summary>
    /// Judges <paramref name="comparison"/> against <paramref name="limits"/>; <paramref name="alpha"/> is the significance
    /// level of the tests over runs.
    /// </summary>
    public static RegressionCheck Of(Comparison comparison, IReadOnlyList<FigureLimit> limits, double alpha = ShiftTest.DefaultAlpha)
    {
        ArgumentNullException.ThrowIfNull(comparison);
        ArgumentNullException.ThrowIfNull(limits);
        var checks = new List<LimitCheck>();
        var unmatched = new List<FigureLimit>();
        foreach (FigureLimit limit in limits)
        {
            var rows = comparison.Rows.Where(r => limit.Matches(r.Engine, r.Figure)).ToList();
            if (rows.Count == 0)
            {
                unmatched.Add(limit);
            }

            checks.AddRange(rows.Select(r => Judge(r, limit, alpha)));
        }

        string? a = comparison.A.Trace.CommandLine, b = comparison.B.Trace.CommandLine;
        string? warning = a is not null && b is not null && a != b
            ? $"A and B are recordings of different command lines (different programs or inputs?): A ran '{a}', B ran '{b}'"
            : null;
        return new RegressionCheck(comparison, checks, unmatched, warning);
    }

    private static LimitCheck Judge(FigureComparison row, FigureLimit limit, double alpha)
    {
        var check = new LimitCheck(row, limit, limit.Ceiling(row.A));
        if (ShiftTest.Applies(row))
        {
            return check with { Shift = ShiftTest.Judge(row.RunsA!, row.RunsB!, limit, alpha) };
        }

        return row.RunsA is not null || row.RunsB is not null || RunStatistics.VariesByRun(row.Figure) ? check with { SingleValue = true } : check;
    }

    /// <summary>
    /// One line per failed figure and unmatched limit, one per figure judged by a test over runs, one note per figure that
    /// varies by run but had too few runs for the test, then a verdict line; what `compare --fail-on` prints.
    /// </summary>
    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        if (ProgramWarning is not null)
        {
            sb.AppendLine(inv, $"warning: {ProgramWarning}");
        }

        foreach (LimitCheck c in Checks.Where(c => c.Failed || c.Shift is not null))
        {
            string a = Figures.Format(c.Row.Figure, c.Row.A), b = Figures.Format(c.Row.Figure, c.Row.B);
            string test = c.Shift is { } s
                ? string.Create(inv, $"; {c.Test} {(s.Significant ? "<" : ">=")} {s.Alpha:0.###}: B is {(s.Significant ? "" : "not ")}significantly above A {c.Limit.Allowed}")
                : "";
            string medians = c.Shift is null ? "" : "medians ";
            sb.AppendLine(inv, $"{(c.Failed ? "FAIL" : "pass")} {c.Row.Engine} {c.Row.Figure}: {medians}{a} -> {b} ({Change(c)}, allowed {c.Limit.Allowed}){test}");
        }

        foreach (LimitCheck c in Checks.Where(c => c.SingleValue))
        {
            sb.AppendLine(inv, $"note: {c.Row.Engine} {c.Row.Figure} varies from run to run but has {c.Row.RunsA?.Count ?? 1} run(s) in A and " +
                $"{c.Row.RunsB?.Count ?? 1} in B: judged on one value per side (the median of its runs), not by a test over runs (replay --repeat {ShiftTest.MinRuns} or more on both sides for that)");
        }

        foreach (FigureLimit u in Unmatched)
        {
            sb.AppendLine(inv, $"FAIL --fail-on {(u.Engine is null ? "" : u.Engine + ":")}{u.Figure}: no such figure in any engine present in both outputs");
        }

        int failed = Checks.Count(c => c.Failed) + Unmatched.Count;
        string verdict = failed == 0
            ? string.Create(inv, $"regression check passed: {Checks.Count} figure(s) within their limits")
            : string.Create(inv, $"regression check failed: {failed} of {Checks.Count + Unmatched.Count} figure(s) beyond their limits");
        sb.AppendLine(verdict);
        return sb.ToString();
    }

    /// <summary>
    /// A Markdown table of every checked figure (engine, figure, A, B, change, allowed, verdict) for a CI job summary
    /// (GitHub's <c>$GITHUB_STEP_SUMMARY</c>) or a pull-request comment, with a heading saying whether it passed.
    /// </summary>
    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"### PtReplay regression check: {(Failed ? "failed" : "passed")}");
        sb.AppendLine();
        sb.AppendLine(inv, $"A: `{Comparison.A.SummaryPath}`  ");
        sb.AppendLine(inv, $"B: `{Comparison.B.SummaryPath}`");
        if (ProgramWarning is not null)
        {
            sb.AppendLine();
            sb.AppendLine(inv, $"> **Warning:** {Cell(ProgramWarning)}");
        }

        sb.AppendLine();
        sb.AppendLine("| engine | figure | A | B | change | allowed | test | verdict |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---|---|");
        foreach (LimitCheck c in Checks)
        {
            string a = Figures.Format(c.Row.Figure, c.Row.A), b = Figures.Format(c.Row.Figure, c.Row.B);
            sb.AppendLine(inv, $"| {Cell(c.Row.Engine)} | {Cell(c.Row.Figure)} | {a} | {b} | {Change(c)} | {c.Limit.Allowed} | {Cell(c.Test)} | {(c.Failed ? "**fail**" : "pass")} |");
        }

        foreach (FigureLimit u in Unmatched)
        {
            sb.AppendLine(inv, $"| {Cell(u.Engine ?? "any")} | {Cell(u.Figure)} | | | | {u.Allowed} | | **fail**: no such figure |");
        }

        if (Checks.Any(c => c.Shift is not null || c.SingleValue))
        {
            sb.AppendLine();
            double level = Checks.FirstOrDefault(c => c.Shift is not null)?.Shift?.Alpha ?? ShiftTest.DefaultAlpha;
            sb.AppendLine("Latency, and the memory figures of some allocators (jemalloc's), vary from run to run. " +
                string.Create(inv, $"With at least {ShiftTest.MinRuns} runs a side ") +
                "(`replay --repeat N`), A and B are medians over the runs and such a limit fails only when a one-sided " +
                string.Create(inv, $"Mann-Whitney test finds B's runs significantly (p < {level:0.###}) above A's runs raised by the limit; ") +
                "with fewer, the single value (or median) is compared with the limit. Every other figure is compared exactly.");
        }

        return sb.ToString();
    }

    private static string Change(LimitCheck c) =>
        c.ChangePercent is { } p ? p.ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + " %" : "n/a";

    /// <summary>Text safe inside a Markdown table cell.</summary>
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
