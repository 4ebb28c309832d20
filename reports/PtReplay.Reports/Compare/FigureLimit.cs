using System.Globalization;

namespace PtReplay.Reports.Compare;

/// <summary>
/// One limit of <c>compare --fail-on</c>: how much worse (larger) a figure of B may be than A's before the comparison fails.
/// Written <c>[ENGINE:]FIGURE=+N%</c> (relative to A) or <c>[ENGINE:]FIGURE=+N</c> (absolute, in the figure's unit: bytes,
/// ns, a ratio), e.g. <c>peak_footprint=+5%</c>, <c>glibc:malloc.p99=+10%</c>, <c>final_rss=+1048576</c>.
/// FIGURE is a summary.json figure name (<c>peak_footprint_bytes</c>), the same without its <c>_bytes</c> suffix, or a
/// latency percentile <c>KIND.pNN</c> (<c>malloc.p99</c>, the comparison's <c>latency.malloc.p99</c>).
/// Invariant: <see cref="Amount"/> ≥ 0; <see cref="Engine"/> null means every engine present in both outputs.
/// </summary>
/// <param name="Engine">The engine the limit applies to, or null for all.</param>
/// <param name="Figure">The figure as written (resolved against a comparison's names by <see cref="Matches"/>).</param>
/// <param name="Amount">The allowed increase: a percentage when <paramref name="Relative"/>, else an absolute amount.</param>
/// <param name="Relative">True for "+N%".</param>
public sealed record FigureLimit(string? Engine, string Figure, double Amount, bool Relative)
{
    /// <summary>Parses a comma-separated list of limits; throws <see cref="FormatException"/> naming the bad one and the syntax.</summary>
    public static IReadOnlyList<FigureLimit> ParseList(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var limits = new List<FigureLimit>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            limits.Add(Parse(part));
        }

        return limits.Count > 0 ? limits : throw new FormatException("--fail-on: no limit given (e.g. 'peak_footprint=+5%,malloc.p99=+10%')");
    }

    /// <summary>Parses one limit (see the type's summary).</summary>
    public static FigureLimit Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        string Bad(string why) => $"--fail-on '{text}': {why}; write [ENGINE:]FIGURE=+N% or [ENGINE:]FIGURE=+N, e.g. peak_footprint=+5%";
        if (eq <= 0)
        {
            throw new FormatException(Bad("no '='"));
        }

        string name = text[..eq].Trim();
        string? engine = null;
        int colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon >= 0)
        {
            engine = name[..colon].Trim();
            name = name[(colon + 1)..].Trim();
            if (engine.Length == 0)
            {
                throw new FormatException(Bad("empty engine name"));
            }
        }

        if (name.Length == 0)
        {
            throw new FormatException(Bad("empty figure name"));
        }

        string amount = text[(eq + 1)..].Trim();
        if (!amount.StartsWith('+'))
        {
            throw new FormatException(Bad("the allowed change must start with '+' (how much larger B may be)"));
        }

        bool relative = amount.EndsWith('%');
        string number = relative ? amount[1..^1] : amount[1..];
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) || value < 0)
        {
            throw new FormatException(Bad($"'{amount}' is not a non-negative number"));
        }

        return new FigureLimit(engine, name, value, relative);
    }

    /// <summary>True when this limit is about <paramref name="figure"/> (a comparison row's name) of <paramref name="engine"/>.</summary>
    public bool Matches(string engine, string figure) =>
        (Engine is null || Engine == engine) &&
        (figure == Figure || figure == Figure + "_bytes" || figure == "latency." + Figure);

    /// <summary>The largest B allowed for a figure whose A is <paramref name="a"/>.</summary>
    public double Ceiling(double a) => Relative ? a * (1 + (Amount / 100)) : a + Amount;

    /// <summary>The limit as written back, e.g. "+5%" or "+1048576".</summary>
    public string Allowed => "+" + Amount.ToString("0.###", CultureInfo.InvariantCulture) + (Relative ? "%" : "");
}
