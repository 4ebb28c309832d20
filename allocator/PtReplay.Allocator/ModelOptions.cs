using PtReplay.Allocator.Tunables;

namespace PtReplay.Allocator;

/// <summary>How the simulated program touches the blocks it receives (drives the page-residency model).</summary>
public enum TouchModel
{
    /// <summary>The program never writes its blocks; only allocator metadata makes pages resident.</summary>
    None,
    /// <summary>One byte per page of every returned block is written.</summary>
    Page,
    /// <summary>The whole block is written.</summary>
    Full,
}

/// <summary>Everything the model needs to know about the simulated process.</summary>
public sealed record ModelOptions
{
    /// <summary>Initial program break (glibc's <c>mp_.sbrk_base</c> once the heap exists). Page-aligned on Linux.</summary>
    public ulong Brk0 { get; init; } = 0x0000_5555_5555_9000;

    /// <summary>System page size (4096 on x86_64).</summary>
    public ulong PageSize { get; init; } = 4096;

    /// <summary>Online CPUs (glibc derives the arena limit 8 x this).</summary>
    public int OnlineCpus { get; init; } = 2;

    /// <summary>The malloc tunables in force (GLIBC_TUNABLES, MALLOC_* variables).</summary>
    public MallocTunables Tunables { get; init; } = MallocTunables.Default;

    /// <summary>How the program touches returned blocks (RSS model).</summary>
    public TouchModel Touch { get; init; } = TouchModel.None;

    /// <summary>
    /// The machine's transparent-huge-page mode is "madvise" (Debian's default): then glibc.malloc.hugetlb=1 makes
    /// glibc grow and trim the break in 2 MiB steps. False models THP "always"/"never", where that tunable does nothing.
    /// </summary>
    public bool ThpMadviseMode { get; init; } = true;

    /// <summary>Highest address of the simulated mmap area; mappings are placed top-down below it, as Linux does.</summary>
    public ulong MmapBase { get; init; } = 0x0000_7fff_f7ff_0000;
}
