namespace PtReplay.Traces;

/// <summary>
/// What one trace event records: a call of a malloc-family entry point, or a process/thread marker.
/// The numeric values are part of the on-disk format (traces/FORMAT.md) and never change.
/// </summary>
public enum EventKind : byte
{
    /// <summary>malloc(Size) = Result.</summary>
    Malloc = 1,
    /// <summary>calloc(Count, Size) = Result.</summary>
    Calloc = 2,
    /// <summary>realloc(Ptr, Size) = Result. realloc(p, 0) frees p and returns NULL.</summary>
    Realloc = 3,
    /// <summary>reallocarray(Ptr, Count, Size) = Result.</summary>
    ReallocArray = 4,
    /// <summary>free(Ptr). free(NULL) is recorded too.</summary>
    Free = 5,
    /// <summary>memalign(Alignment, Size) = Result.</summary>
    Memalign = 6,
    /// <summary>posix_memalign(&amp;Result, Alignment, Size) = Status (0 on success; Result is 0 on failure).</summary>
    PosixMemalign = 7,
    /// <summary>aligned_alloc(Alignment, Size) = Result.</summary>
    AlignedAlloc = 8,
    /// <summary>valloc(Size) = Result.</summary>
    Valloc = 9,
    /// <summary>pvalloc(Size) = Result.</summary>
    Pvalloc = 10,
    /// <summary>
    /// mallopt(param, value): <see cref="AllocEvent.Count"/> = param and <see cref="AllocEvent.Size"/> = value, each a C
    /// int sign-extended to 64 bits (read them with <c>(int)(long)</c>); <see cref="AllocEvent.Result"/> = what it
    /// returned (1 accepted, 0 refused). A setting, not a call on a block: later calls depend on it.
    /// </summary>
    Mallopt = 11,
    /// <summary>malloc_trim(Size) = Result (1 when memory went back to the system). A setting-like event, not a call on a block.</summary>
    MallocTrim = 12,

    /// <summary>A thread started (its first event, or pthread start). Size = kernel thread id.</summary>
    ThreadStart = 16,
    /// <summary>A thread exited. Size = kernel thread id.</summary>
    ThreadExit = 17,
    /// <summary>The process forked; Size = the child's pid (the child writes its own trace).</summary>
    Fork = 18,
    /// <summary>The process is about to exec; the new program writes its own trace.</summary>
    Exec = 19,
}

/// <summary>Helpers over <see cref="EventKind"/>.</summary>
public static class EventKinds
{
    /// <summary>The ten malloc-family calls, in format order.</summary>
    public static readonly EventKind[] Calls =
    [
        EventKind.Malloc, EventKind.Calloc, EventKind.Realloc, EventKind.ReallocArray, EventKind.Free,
        EventKind.Memalign, EventKind.PosixMemalign, EventKind.AlignedAlloc, EventKind.Valloc, EventKind.Pvalloc,
    ];

    /// <summary>True for the malloc-family calls, false for markers.</summary>
    public static bool IsCall(this EventKind kind) => kind is >= EventKind.Malloc and <= EventKind.Pvalloc;

    /// <summary>True when the call returns a new block in <see cref="AllocEvent.Result"/>.</summary>
    public static bool Allocates(this EventKind kind) => kind.IsCall() && kind != EventKind.Free;

    /// <summary>True for mallopt and malloc_trim: calls on the allocator, not on a block, that a replay makes where the program did.</summary>
    public static bool IsAllocatorControl(this EventKind kind) => kind is EventKind.Mallopt or EventKind.MallocTrim;

    /// <summary>True when the call consumes <see cref="AllocEvent.Ptr"/> (free, realloc, reallocarray).</summary>
    public static bool TakesPointer(this EventKind kind) =>
        kind is EventKind.Free or EventKind.Realloc or EventKind.ReallocArray;

    /// <summary>The C name of the call, as used by `info --json` and every report ("posix_memalign", ...).</summary>
    public static string CName(this EventKind kind) => kind switch
    {
        EventKind.Malloc => "malloc",
        EventKind.Calloc => "calloc",
        EventKind.Realloc => "realloc",
        EventKind.ReallocArray => "reallocarray",
        EventKind.Free => "free",
        EventKind.Memalign => "memalign",
        EventKind.PosixMemalign => "posix_memalign",
        EventKind.AlignedAlloc => "aligned_alloc",
        EventKind.Valloc => "valloc",
        EventKind.Pvalloc => "pvalloc",
        EventKind.Mallopt => "mallopt",
        EventKind.MallocTrim => "malloc_trim",
        EventKind.ThreadStart => "thread_start",
        EventKind.ThreadExit => "thread_exit",
        EventKind.Fork => "fork",
        EventKind.Exec => "exec",
        _ => "unknown(" + ((byte)kind).ToString(System.Globalization.CultureInfo.InvariantCulture) + ")",
    };
}
