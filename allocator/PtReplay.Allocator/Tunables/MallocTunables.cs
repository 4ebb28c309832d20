using System.Collections.Immutable;
using System.Globalization;

namespace PtReplay.Allocator.Tunables;

/// <summary>
/// The malloc tunables a process starts with: only the ones explicitly set (glibc applies a tunable
/// only when it was set, and setting some of them turns the dynamic mmap threshold off).
/// Values are kept as parsed; bounds from <see cref="TunableTable"/> are applied while parsing.
/// </summary>
public sealed record MallocTunables
{
    /// <summary>No tunable set: glibc's defaults.</summary>
    public static MallocTunables Default { get; } = new();

    /// <summary>The explicitly set tunables.</summary>
    public ImmutableDictionary<TunableId, ulong> Values { get; init; } = ImmutableDictionary<TunableId, ulong>.Empty;

    /// <summary>The value set for <paramref name="id"/>, or null when it was not set.</summary>
    public ulong? Get(TunableId id) => Values.TryGetValue(id, out var v) ? v : null;

    /// <summary>The value in force for <paramref name="id"/> (set value or glibc's default).</summary>
    public ulong Effective(TunableId id) => Get(id) ?? TunableTable.Get(id).Default;

    /// <summary>Returns a copy with <paramref name="id"/> set (bounds are checked: out-of-range values are ignored like glibc does).</summary>
    public MallocTunables With(TunableId id, ulong value)
    {
        var spec = TunableTable.Get(id);
        if (value < spec.Min || value > spec.Max)
            return this;
        return this with { Values = Values.SetItem(id, value) };
    }

    /// <summary>Parses a GLIBC_TUNABLES value (<c>glibc.malloc.x=1:glibc.malloc.y=0x10</c>); non-malloc or unknown names are ignored.</summary>
    public static MallocTunables Parse(string glibcTunables) => Default.ApplyGlibcTunables(glibcTunables);

    /// <summary>
    /// Parses a GLIBC_TUNABLES value given by a user (<c>glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0</c>),
    /// refusing what <see cref="Parse"/> would ignore: an item without NAME=VALUE, a name that is not in
    /// <see cref="TunableTable"/>, a value that is not a number (decimal, 0x hex, leading-0 octal) or is outside the
    /// tunable's [Min, Max], or a value malloc's setter would ignore (above <see cref="TunableSpec.SetterMax"/>: tcache_count
    /// above 65535, tcache_max above 1032, mxfast above 160). The <see cref="InvalidTunablesException"/> names the accepted
    /// names or range.
    /// </summary>
    public static MallocTunables ParseChecked(string glibcTunables)
    {
        ArgumentNullException.ThrowIfNull(glibcTunables);
        var result = Default;
        string[] items = glibcTunables.Split(':', StringSplitOptions.RemoveEmptyEntries);
        if (items.Length == 0)
            throw new InvalidTunablesException($"no tunable in '{glibcTunables}'; write NAME=VALUE[:NAME=VALUE...], names: {AcceptedNames()}");
        foreach (var item in items)
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                throw new InvalidTunablesException($"'{item}' is not NAME=VALUE; names: {AcceptedNames()}");
            string name = item[..eq].Trim();
            var spec = TunableTable.ByName(name)
                ?? throw new InvalidTunablesException($"unknown tunable '{name}'; names: {AcceptedNames()}");
            string text = item[(eq + 1)..];
            if (!TryParseNumber(text, out ulong v) || v < spec.Min || v > spec.Max)
                throw new InvalidTunablesException($"{name}={text}: the value must be a whole number in {Range(spec)}");
            if (v > spec.SetterMax)
                throw new InvalidTunablesException(string.Create(CultureInfo.InvariantCulture,
                    $"{name}={text}: glibc accepts the setting but malloc ignores values above {spec.SetterMax}, so it would change nothing; use a whole number in [{spec.Min}, {spec.SetterMax}]"));
            result = result.With(spec.Id, v);
        }
        return result;
    }

    /// <summary>The names <see cref="ParseChecked"/> accepts, comma-separated.</summary>
    public static string AcceptedNames() => string.Join(", ", TunableTable.All.Select(t => t.Name));

    private static string Range(TunableSpec spec) => string.Create(CultureInfo.InvariantCulture,
        $"[{spec.Min}, {(spec.Max == ulong.MaxValue ? "SIZE_MAX" : spec.Max.ToString(CultureInfo.InvariantCulture))}]");

    /// <summary>
    /// Builds the tunables from NAME=VALUE environment strings, in order (a later setting wins, as in glibc's
    /// tunables init): GLIBC_TUNABLES and the MALLOC_* aliases.
    /// </summary>
    public static MallocTunables FromEnvironment(IEnumerable<string> nameValueVars)
    {
        var result = Default;
        foreach (var entry in nameValueVars)
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                continue;
            string name = entry[..eq], value = entry[(eq + 1)..];
            if (name == "GLIBC_TUNABLES")
            {
                result = result.ApplyGlibcTunables(value);
                continue;
            }
            var spec = TunableTable.ByAlias(name);
            if (spec is not null && TryParseNumber(value, out ulong v))
                result = result.With(spec.Id, v);
        }
        return result;
    }

    private MallocTunables ApplyGlibcTunables(string text)
    {
        var result = this;
        foreach (var item in text.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
                continue;
            var spec = TunableTable.ByName(item[..eq]);
            if (spec is not null && TryParseNumber(item[(eq + 1)..], out ulong v))
                result = result.With(spec.Id, v);
        }
        return result;
    }

    /// <summary>Number syntax of glibc's tunables parser: decimal, 0x hex or leading-0 octal.</summary>
    public static bool TryParseNumber(string text, out ulong value)
    {
        text = text.Trim();
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        if (text.Length > 1 && text[0] == '0')
        {
            value = 0;
            foreach (char c in text.AsSpan(1))
            {
                if (c < '0' || c > '7')
                    return false;
                value = value * 8 + (ulong)(c - '0');
            }
            return true;
        }
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The GLIBC_TUNABLES string that reproduces this set (for running the real glibc).</summary>
    public string ToGlibcTunables()
    {
        var parts = new List<string>();
        foreach (var spec in TunableTable.All)
            if (Values.TryGetValue(spec.Id, out var v))
                parts.Add(spec.Name + "=" + v.ToString(CultureInfo.InvariantCulture));
        return string.Join(':', parts);
    }

    /// <inheritdoc />
    public bool Equals(MallocTunables? other) =>
        other is not null && Values.Count == other.Values.Count && Values.All(kv => other.Values.TryGetValue(kv.Key, out var v) && v == kv.Value);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        int h = 0;
        foreach (var kv in Values)
            h ^= HashCode.Combine(kv.Key, kv.Value);
        return h;
    }
}
