using Perfolizer.Mathematics.SignificanceTesting.Base;
using Perfolizer.Mathematics.SignificanceTesting.MannWhitney;
using Perfolizer.Metrology;
using Pragmastat;
using Pragmastat.Metrology;

namespace PtReplay.Reports.Compare;

/// <summary>
/// The outcome of <see cref="ShiftTest.Judge"/>: the one-sided Mann-Whitney test of "B's runs are larger than A's runs
/// raised by the limit". <see cref="Ux"/> is the U statistic of B against the raised A (pairs where B's value is larger,
/// ties counting one half), <see cref="Uy"/> = runs A × runs B − <see cref="Ux"/>.
/// Invariant: <see cref="Significant"/> = <see cref="PValue"/> &lt; <see cref="Alpha"/>.
/// </summary>
/// <param name="PValue">The probability of a U this large if B were not above the raised A.</param>
/// <param name="Ux">U of B.</param>
/// <param name="Uy">U of the raised A.</param>
/// <param name="RunsA">Runs of A.</param>
/// <param name="RunsB">Runs of B.</param>
/// <param name="Alpha">The significance level the verdict used.</param>
public sealed record ShiftTestResult(double PValue, double Ux, double Uy, int RunsA, int RunsB, double Alpha)
{
    /// <summary>True when B is above A raised by the limit, significantly at <see cref="Alpha"/>.</summary>
    public bool Significant => PValue < Alpha;
}

/// <summary>
/// Judges a latency limit over repeated runs instead of one number against another: the change fails only when it is
/// both significant and larger than the limit. Perfolizer's Mann-Whitney U test (exact distribution for small samples),
/// one-sided ("greater"), with the limit as its threshold: each of A's runs is raised by the limit (× (1 + N %) or + N)
/// and the test asks whether B's runs are larger than those.
/// With 5 runs a side the smallest possible p-value is 1/252 ≈ 0.004; with 3 it is 1/20 = 0.05, too coarse for a
/// verdict, hence <see cref="MinRuns"/>.
/// </summary>
public static class ShiftTest
{
    /// <summary>Runs each side needs before a limit is judged by the test rather than by its single (median) value.</summary>
    public const int MinRuns = 5;

    /// <summary>The significance level of the verdict.</summary>
    public const double DefaultAlpha = 0.05;

    /// <summary>True when both sides have enough runs for the test.</summary>
    public static bool Applies(FigureComparison row) =>
        row is { RunsA.Count: >= MinRuns, RunsB.Count: >= MinRuns };

    /// <summary>Tests whether <paramref name="b"/> is above <paramref name="a"/> raised by <paramref name="limit"/>.</summary>
    public static ShiftTestResult Judge(IReadOnlyList<double> a, IReadOnlyList<double> b, FigureLimit limit, double alpha = DefaultAlpha)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        ArgumentNullException.ThrowIfNull(limit);
        if (a.Count == 0 || b.Count == 0)
        {
            throw new ArgumentException("both sides need at least one run");
        }

        Threshold threshold = limit.Relative
            ? new Threshold(PercentValue.Of(limit.Amount).ToMeasurement())
            : new Threshold(new Measurement(limit.Amount, NumberUnit.Instance));
        MannWhitneyResult result = MannWhitneyTest.Instance.Perform(
            new Sample([.. b]), new Sample([.. a]), AlternativeHypothesis.Greater, threshold);
        return new ShiftTestResult(result.PValue.Value, result.Ux, result.Uy, a.Count, b.Count, alpha);
    }
}
