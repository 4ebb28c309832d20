using System.Globalization;
using PtReplay.Allocator.Tunables;
using PtReplay.Results;

namespace PtReplay.Replay.Sweep;

/// <summary>
/// The tunables grid of a sweep: one axis per `--tunable NAME=V1,V2,...`, the points being their cartesian product
/// (first axis slowest). Values are numbers as glibc's tunables parser reads them (decimal, 0x hex, leading-0 octal),
/// optionally followed by K, M or G (times 1024, 1024², 1024³). Invariants: at least one axis; axis names are distinct
/// tunables of <see cref="TunableTable"/>; every value is within its tunable's range (checked by
/// <see cref="MallocTunables.ParseChecked"/>), so the model applies each point exactly as written.
/// </summary>
public sealed class SweepGrid
{
    private SweepGrid(IReadOnlyList<SweepAxis> axes)
    {
        Axes = axes;
        int count = 1;
        foreach (SweepAxis axis in axes)
        {
            count = checked(count * axis.Values.Count);
        }

        Count = count;
    }

    /// <summary>The axes, in command-line order.</summary>
    public IReadOnlyList<SweepAxis> Axes { get; }

    /// <summary>Points in the grid.</summary>
    public int Count { get; }

    /// <summary>
    /// Parses the `--tunable` arguments. Throws <see cref="InvalidTunablesException"/> naming the argument for a missing
    /// '=' or value, an unknown or repeated name, a value that is not a number or outside the tunable's range.
    /// </summary>
    public static SweepGrid Parse(IReadOnlyList<string> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        if (specs.Count == 0)
        {
            throw new InvalidTunablesException("give at least one --tunable NAME=V1,V2,...; names: " + MallocTunables.AcceptedNames());
        }

        var axes = new List<SweepAxis>();
        foreach (string spec in specs)
        {
            int eq = spec.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new InvalidTunablesException($"--tunable '{spec}' is not NAME=V1,V2,...; names: {MallocTunables.AcceptedNames()}");
            }

            string name = spec[..eq].Trim();
            if (TunableTable.ByName(name) is null)
            {
                throw new InvalidTunablesException($"--tunable '{spec}': unknown tunable '{name}'; names: {MallocTunables.AcceptedNames()}");
            }

            if (axes.Any(a => a.Name == name))
            {
                throw new InvalidTunablesException($"--tunable '{spec}': {name} is already an axis of the grid; give all its values in one --tunable");
            }

            string[] texts = spec[(eq + 1)..].Split(',', StringSplitOptions.TrimEntries);
            var values = new List<ulong>();
            foreach (string text in texts)
            {
                if (!TryParseSize(text, out ulong value))
                {
                    throw new InvalidTunablesException($"--tunable '{spec}': '{text}' is not a number (decimal, 0x hex, leading-0 octal, optionally with K, M or G)");
                }

                // The checked parser refuses a value outside the tunable's range, with the range in its message.
                MallocTunables.ParseChecked(name + "=" + value.ToString(CultureInfo.InvariantCulture));
                if (!values.Contains(value))
                {
                    values.Add(value);
                }
            }

            axes.Add(new SweepAxis(name, values));
        }

        return new SweepGrid(axes);
    }

    /// <summary>Point <paramref name="index"/> (0 ≤ index &lt; <see cref="Count"/>) as GLIBC_TUNABLES: NAME=VALUE joined with ':'.</summary>
    public string Tunables(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        var parts = new string[Axes.Count];
        int rest = index;
        for (int a = Axes.Count - 1; a >= 0; a--)
        {
            IReadOnlyList<ulong> values = Axes[a].Values;
            parts[a] = Axes[a].Name + "=" + values[rest % values.Count].ToString(CultureInfo.InvariantCulture);
            rest /= values.Count;
        }

        return string.Join(':', parts);
    }

    /// <summary>A number as <see cref="MallocTunables.TryParseNumber"/> reads it, optionally followed by K, M or G (binary multiples).</summary>
    public static bool TryParseSize(string text, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(text);
        value = 0;
        text = text.Trim();
        if (text.Length == 0)
        {
            return false;
        }

        int shift = char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 };
        // "0x1f" ends in a hex digit, never in K/M/G, so a suffix is never part of the number.
        string number = shift == 0 ? text : text[..^1];
        if (!MallocTunables.TryParseNumber(number, out ulong n) || number.Trim().Length != number.Length)
        {
            return false;
        }

        if (shift > 0 && n > ulong.MaxValue >> shift)
        {
            return false;
        }

        value = n << shift;
        return true;
    }
}
