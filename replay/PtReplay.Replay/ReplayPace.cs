using System.Globalization;

namespace PtReplay.Replay;

/// <summary>
/// How fast the native engines issue the calls: as fast as possible (<see cref="Max"/>, the default), or at the
/// recorded pace divided by <see cref="Factor"/> (1 = as recorded, 2 = twice as fast). Allocators that return memory
/// on a timer (jemalloc's decay, tcmalloc's background release, mimalloc's purge delay) only show that behaviour at
/// a recorded pace. The model has no timers: it ignores the pace.
/// <para>Invariant: <see cref="Factor"/> is 0 (max) or a finite number above 0.</para>
/// </summary>
public readonly record struct ReplayPace
{
    private ReplayPace(double factor) => Factor = factor;

    /// <summary>As fast as possible.</summary>
    public static ReplayPace Max => default;

    /// <summary>The recorded pace.</summary>
    public static ReplayPace Recorded => new(1);

    /// <summary>0 for <see cref="Max"/>; otherwise recorded gaps are divided by this.</summary>
    public double Factor { get; }

    /// <summary>True unless <see cref="Max"/>.</summary>
    public bool IsPaced => Factor > 0;

    /// <summary>"max", "recorded", or the factor (invariant culture), as the CLI takes it and summary.json writes it.</summary>
    public override string ToString() =>
        Factor == 0 ? "max" : Factor == 1 ? "recorded" : Factor.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>A factor above 0 (1 = recorded).</summary>
    public static ReplayPace FromFactor(double factor) =>
        double.IsFinite(factor) && factor > 0 && factor < 1e9
            ? new ReplayPace(factor)
            : throw new ArgumentOutOfRangeException(nameof(factor), factor, "a pace factor is a number above 0");

    /// <summary>Parses "max", "recorded" or a factor above 0; returns an error message or null.</summary>
    public static string? TryParse(string text, out ReplayPace pace)
    {
        pace = Max;
        switch (text)
        {
            case "max":
                return null;
            case "recorded":
                pace = Recorded;
                return null;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f) && f > 0 && f < 1e9)
        {
            pace = new ReplayPace(f);
            return null;
        }

        return $"'{text}' is not max, recorded or a factor above 0 (e.g. 2 for twice the recorded speed)";
    }
}
