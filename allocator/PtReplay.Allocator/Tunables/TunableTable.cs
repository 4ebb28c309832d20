namespace PtReplay.Allocator.Tunables;

/// <summary>Identifies one glibc malloc tunable.</summary>
public enum TunableId
{
    /// <summary>glibc.malloc.check (MALLOC_CHECK_); no effect without libc_malloc_debug.so.</summary>
    Check,
    /// <summary>glibc.malloc.top_pad (MALLOC_TOP_PAD_).</summary>
    TopPad,
    /// <summary>glibc.malloc.perturb (MALLOC_PERTURB_).</summary>
    Perturb,
    /// <summary>glibc.malloc.mmap_threshold (MALLOC_MMAP_THRESHOLD_).</summary>
    MmapThreshold,
    /// <summary>glibc.malloc.trim_threshold (MALLOC_TRIM_THRESHOLD_).</summary>
    TrimThreshold,
    /// <summary>glibc.malloc.mmap_max (MALLOC_MMAP_MAX_).</summary>
    MmapMax,
    /// <summary>glibc.malloc.arena_max (MALLOC_ARENA_MAX).</summary>
    ArenaMax,
    /// <summary>glibc.malloc.arena_test (MALLOC_ARENA_TEST).</summary>
    ArenaTest,
    /// <summary>glibc.malloc.tcache_max.</summary>
    TcacheMax,
    /// <summary>glibc.malloc.tcache_count.</summary>
    TcacheCount,
    /// <summary>glibc.malloc.tcache_unsorted_limit.</summary>
    TcacheUnsortedLimit,
    /// <summary>glibc.malloc.mxfast.</summary>
    MxFast,
    /// <summary>glibc.malloc.hugetlb (modelled as accepted but without effect).</summary>
    Hugetlb,
}

/// <summary>One row of the tunables table: glibc's name, its environment alias, default and accepted bounds.</summary>
/// <param name="Id">Which tunable.</param>
/// <param name="Name">Full GLIBC_TUNABLES name.</param>
/// <param name="EnvAlias">MALLOC_* environment alias, or null.</param>
/// <param name="Default">Value glibc uses when the tunable is not set (what mallinfo/behaviour show).</param>
/// <param name="Min">Smallest accepted value (values outside [Min, Max] are ignored, as glibc does).</param>
/// <param name="Max">Largest accepted value.</param>
/// <param name="SetterMax">
/// Largest value malloc's own setter takes (malloc.c's do_set_* functions): glibc's tunables code accepts values up to
/// <paramref name="Max"/>, but the setter ignores those above this one, so they change nothing. Equal to Max where the
/// setter takes everything. Invariant: Min &lt;= SetterMax &lt;= Max.
/// </param>
public sealed record TunableSpec(TunableId Id, string Name, string? EnvAlias, ulong Default, ulong Min, ulong Max, ulong SetterMax)
{
    /// <summary>A row whose setter takes every value in [Min, Max].</summary>
    public TunableSpec(TunableId id, string name, string? envAlias, ulong @default, ulong min, ulong max)
        : this(id, name, envAlias, @default, min, max, max)
    {
    }
}

/// <summary>
/// THE table of malloc options (glibc 2.36, elf/dl-tunables.list + malloc.c defaults, x86_64).
/// Everything else (parsing, mallopt, the runtime parameters) reads it.
/// </summary>
public static class TunableTable
{
    private const ulong SizeMax = ulong.MaxValue;
    private const ulong Int32Max = int.MaxValue;

    /// <summary>All rows, indexed by <see cref="TunableId"/>.</summary>
    public static IReadOnlyList<TunableSpec> All { get; } =
    [
        new(TunableId.Check, "glibc.malloc.check", "MALLOC_CHECK_", 0, 0, 3),
        new(TunableId.TopPad, "glibc.malloc.top_pad", "MALLOC_TOP_PAD_", 128 * 1024, 0, SizeMax),
        new(TunableId.Perturb, "glibc.malloc.perturb", "MALLOC_PERTURB_", 0, 0, 0xff),
        new(TunableId.MmapThreshold, "glibc.malloc.mmap_threshold", "MALLOC_MMAP_THRESHOLD_", 128 * 1024, 0, SizeMax),
        new(TunableId.TrimThreshold, "glibc.malloc.trim_threshold", "MALLOC_TRIM_THRESHOLD_", 128 * 1024, 0, SizeMax),
        new(TunableId.MmapMax, "glibc.malloc.mmap_max", "MALLOC_MMAP_MAX_", 65536, 0, Int32Max),
        new(TunableId.ArenaMax, "glibc.malloc.arena_max", "MALLOC_ARENA_MAX", 0, 1, SizeMax),
        new(TunableId.ArenaTest, "glibc.malloc.arena_test", "MALLOC_ARENA_TEST", 8, 1, SizeMax),
        new(TunableId.TcacheMax, "glibc.malloc.tcache_max", null, 1032, 0, SizeMax, MallocParams.MaxTcacheSize),
        new(TunableId.TcacheCount, "glibc.malloc.tcache_count", null, 7, 0, SizeMax, MallocParams.MaxTcacheCount),
        new(TunableId.TcacheUnsortedLimit, "glibc.malloc.tcache_unsorted_limit", null, 0, 0, SizeMax),
        new(TunableId.MxFast, "glibc.malloc.mxfast", null, 128, 0, SizeMax, MallocParams.MaxFastSize),
        new(TunableId.Hugetlb, "glibc.malloc.hugetlb", null, 0, 0, SizeMax),
    ];

    /// <summary>The row for <paramref name="id"/>.</summary>
    public static TunableSpec Get(TunableId id) => All[(int)id];

    /// <summary>Finds a row by its GLIBC_TUNABLES name; null when unknown.</summary>
    public static TunableSpec? ByName(string name)
    {
        foreach (var spec in All)
            if (string.Equals(spec.Name, name, StringComparison.Ordinal))
                return spec;
        return null;
    }

    /// <summary>Finds a row by its environment alias; null when unknown.</summary>
    public static TunableSpec? ByAlias(string alias)
    {
        foreach (var spec in All)
            if (spec.EnvAlias is not null && string.Equals(spec.EnvAlias, alias, StringComparison.Ordinal))
                return spec;
        return null;
    }
}
