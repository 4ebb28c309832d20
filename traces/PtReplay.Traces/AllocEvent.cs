using System.Runtime.InteropServices;

namespace PtReplay.Traces;

/// <summary>
/// One decoded trace event. A plain value type so readers can fill spans of them without allocating.
/// <para>Invariants: fields a kind does not use are 0; <see cref="Count"/> is 1 except for calloc and
/// reallocarray; <see cref="Result"/> is 0 exactly when the call returned NULL (or, for posix_memalign,
/// failed); <see cref="Timestamp"/> never decreases within one thread.</para>
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct AllocEvent : IEquatable<AllocEvent>
{
    /// <summary>Nanoseconds since the trace's start (header StartMonotonicNs), on the recorded clock.</summary>
    public long Timestamp;
    /// <summary>Input pointer: free, realloc, reallocarray. 0 = NULL.</summary>
    public ulong Ptr;
    /// <summary>Requested size (element size for calloc/reallocarray); for markers, the tid or pid named by the kind.</summary>
    public ulong Size;
    /// <summary>Element count for calloc/reallocarray, 1 otherwise (0 for free and markers).</summary>
    public ulong Count;
    /// <summary>Requested alignment for memalign, posix_memalign, aligned_alloc; 0 otherwise.</summary>
    public ulong Alignment;
    /// <summary>The address the allocator returned; 0 = NULL / failure.</summary>
    public ulong Result;
    /// <summary>Index of the recording thread in the trace's thread table (0 = the first thread seen, normally main).</summary>
    public int Thread;
    /// <summary>posix_memalign's return value; errno after a failed call where recorded; 0 otherwise.</summary>
    public int Status;
    /// <summary>What this event is.</summary>
    public EventKind Kind;
    /// <summary>Call stack of an allocating call recorded with <c>record --stacks</c>: an id into the reader's <see cref="Stacks.StackTable"/>; 0 = none recorded.</summary>
    public int Stack;

    /// <summary>Bytes the caller asked for: Size × Count for calloc/reallocarray (saturating), Size for other allocating calls.</summary>
    public readonly ulong RequestedBytes => Kind is EventKind.Calloc or EventKind.ReallocArray
        ? (Count != 0 && Size > ulong.MaxValue / Count ? ulong.MaxValue : Size * Count)
        : Kind.Allocates() ? Size : 0;

    /// <inheritdoc />
    public readonly bool Equals(AllocEvent other) =>
        Timestamp == other.Timestamp && Ptr == other.Ptr && Size == other.Size && Count == other.Count &&
        Alignment == other.Alignment && Result == other.Result && Thread == other.Thread &&
        Status == other.Status && Kind == other.Kind && Stack == other.Stack;

    /// <inheritdoc />
    public override readonly bool Equals(object? obj) => obj is AllocEvent e && Equals(e);

    /// <inheritdoc />
    public override readonly int GetHashCode() => HashCode.Combine(Timestamp, Ptr, Size, Result, Thread, Kind);

    /// <summary>Equality.</summary>
    public static bool operator ==(AllocEvent left, AllocEvent right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(AllocEvent left, AllocEvent right) => !left.Equals(right);

    /// <summary>A readable form for messages: "malloc(24) = 0x55d0c2a1e2a0 [t0 @123ns]".</summary>
    public override readonly string ToString()
    {
        string call = Kind switch
        {
            EventKind.Malloc or EventKind.Valloc or EventKind.Pvalloc => $"{Kind.CName()}({Size}) = 0x{Result:x}",
            EventKind.Calloc => $"calloc({Count}, {Size}) = 0x{Result:x}",
            EventKind.Realloc => $"realloc(0x{Ptr:x}, {Size}) = 0x{Result:x}",
            EventKind.ReallocArray => $"reallocarray(0x{Ptr:x}, {Count}, {Size}) = 0x{Result:x}",
            EventKind.Free => $"free(0x{Ptr:x})",
            EventKind.Memalign or EventKind.AlignedAlloc => $"{Kind.CName()}({Alignment}, {Size}) = 0x{Result:x}",
            EventKind.PosixMemalign => $"posix_memalign({Alignment}, {Size}) = {Status}, 0x{Result:x}",
            EventKind.Mallopt => $"mallopt({unchecked((int)(long)Count)}, {unchecked((int)(long)Size)}) = {Result}",
            EventKind.MallocTrim => $"malloc_trim({Size}) = {Result}",
            _ => $"{Kind.CName()}({Size})",
        };
        return $"{call} [t{Thread} @{Timestamp}ns]";
    }
}
