namespace PtReplay.Tests.Reports;

/// <summary>
/// The one-sided Mann-Whitney test computed the textbook way, independently of the code under test and of Perfolizer:
/// U counts the pairs (x, y) with x &gt; y (a tie counts one half); the exact null distribution of U for sample sizes n and m
/// (no ties) comes from Mann and Whitney's recurrence on the largest value: it is an x, which beats all m y's, or a y.
/// </summary>
internal static class MannWhitneyReference
{
    /// <summary>U of <paramref name="x"/> against <paramref name="y"/>.</summary>
    public static double U(IReadOnlyList<double> x, IReadOnlyList<double> y) =>
        x.Sum(a => y.Sum(b => a > b ? 1.0 : a == b ? 0.5 : 0.0));

    /// <summary>P(U ≥ <paramref name="u"/>) for samples of <paramref name="n"/> and <paramref name="m"/> values without ties.</summary>
    public static double PGreaterOrEqual(int n, int m, int u)
    {
        double total = 0, atLeast = 0;
        for (int k = 0; k <= n * m; k++)
        {
            double c = Count(n, m, k);
            total += c;
            if (k >= u)
            {
                atLeast += c;
            }
        }

        return atLeast / total;
    }

    /// <summary>How many orderings of n x's and m y's have exactly <paramref name="u"/> pairs with x above y.</summary>
    private static double Count(int n, int m, int u)
    {
        if (u < 0)
        {
            return 0;
        }

        if (n == 0 || m == 0)
        {
            return u == 0 ? 1 : 0;
        }

        return Count(n - 1, m, u - m) + Count(n, m - 1, u);
    }
}
