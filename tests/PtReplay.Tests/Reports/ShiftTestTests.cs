using PtReplay.Reports.Compare;

namespace PtReplay.Tests.Reports;

/// <summary>
/// The test over runs that judges a latency limit (<see cref="ShiftTest"/>) against values worked out by hand and by an
/// independent implementation of the Mann-Whitney test (<see cref="MannWhitneyReference"/>).
/// </summary>
[Trait("Category", "Fast")]
public sealed class ShiftTestTests
{
    /// <summary>
    /// A textbook example worked by hand. x = {19, 22, 16, 29, 24}, y = {20, 11, 17, 12}. Pairs with x above y:
    /// 19 beats 11, 17, 12 (3); 22 beats all four (4); 16 beats 11, 12 (2); 29 and 24 beat all four (4 + 4): U = 17.
    /// Of the C(9, 4) = 126 equally likely orderings, U ≥ 17 happens as often as U ≤ 3 (the distribution is symmetric
    /// about 10): U = 0 one way, 1 one way, 2 two ways, 3 three ways: 7, so p = 7 / 126.
    /// </summary>
    [Fact]
    public void TextbookExample_HasTheHandComputedUAndPValue()
    {
        ShiftTestResult r = ShiftTest.Judge([20, 11, 17, 12], [19, 22, 16, 29, 24], new FigureLimit(null, "malloc.p50", 0, Relative: false));
        Assert.Equal(17, r.Ux);
        Assert.Equal(3, r.Uy);
        Assert.Equal(7.0 / 126, r.PValue, 12);
        Assert.False(r.Significant);   // 0.056 is not below 0.05
        Assert.True((r with { Alpha = 0.1 }).Significant);
    }

    /// <summary>
    /// Seeded random run values with a relative or absolute limit: the limit raises each of A's runs, and U and p agree with
    /// the reference computed on A raised by hand.
    /// </summary>
    [Theory]
    [InlineData(1, 5, 5, 10.0, true)]
    [InlineData(2, 5, 7, 25.0, true)]
    [InlineData(3, 6, 6, 3.0, false)]
    [InlineData(4, 8, 5, 0.0, true)]
    [InlineData(5, 5, 5, 40.0, false)]
    public void RaisedByTheLimit_AgreesWithTheReference(int seed, int runsA, int runsB, double amount, bool relative)
    {
        var random = new Random(seed);
        double[] a = [.. Enumerable.Range(0, runsA).Select(_ => 80 + (random.NextDouble() * 20))];
        double[] b = [.. Enumerable.Range(0, runsB).Select(_ => 85 + (random.NextDouble() * 30))];
        var limit = new FigureLimit(null, "malloc.p99", amount, relative);
        double[] raised = [.. a.Select(v => relative ? v * (1 + (amount / 100)) : v + amount)];

        ShiftTestResult r = ShiftTest.Judge(a, b, limit);
        double u = MannWhitneyReference.U(b, raised);
        Assert.Equal(u, r.Ux, 9);
        Assert.Equal((runsA * runsB) - u, r.Uy, 9);
        Assert.Equal(MannWhitneyReference.PGreaterOrEqual(runsB, runsA, (int)u), r.PValue, 9);
    }

    /// <summary>Every run of B above every run of A raised by the limit: the smallest p of 5 against 5 runs, 1 / C(10, 5).</summary>
    [Fact]
    public void SeparatedRuns_AreSignificant_OnlyWhenTheShiftExceedsTheLimit()
    {
        double[] a = [100, 102, 104, 106, 108];
        double[] b = [130, 131, 132, 133, 134];
        ShiftTestResult beyond = ShiftTest.Judge(a, b, new FigureLimit(null, "malloc.p50", 10, Relative: true));
        Assert.Equal(1.0 / 252, beyond.PValue, 12);
        Assert.True(beyond.Significant);

        // +30 % raises A to 130..140.4: B is no longer above it, the change is within the limit.
        ShiftTestResult within = ShiftTest.Judge(a, b, new FigureLimit(null, "malloc.p50", 30, Relative: true));
        Assert.False(within.Significant);
    }
}
