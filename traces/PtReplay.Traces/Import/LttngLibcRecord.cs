namespace PtReplay.Traces.Import;

/// <summary>
/// The six events LTTng-UST's libc wrapper (liblttng-ust-libc-wrapper.so, lttng-ust 2.13) emits, provider
/// <c>lttng_ust_libc</c>. Payload fields, as the trace's metadata declares them (with a leading '_'):
/// <code>
/// malloc          size, ptr                            ptr = result
/// calloc          nmemb, size, ptr
/// realloc         in_ptr, size, ptr
/// free            ptr                                   (emitted before the real free, also for NULL)
/// memalign        alignment, size, ptr
/// posix_memalign  out_ptr, alignment, size, result      out_ptr = *memptr after the call; result = return value
/// </code>
/// The allocating events are emitted after glibc returned; aligned_alloc, valloc, pvalloc and
/// reallocarray have no event.
/// </summary>
public enum LttngLibcEventKind
{
    /// <summary>An event of another provider, or an lttng_ust_libc event this importer does not know.</summary>
    Other,
    /// <summary>lttng_ust_libc:malloc.</summary>
    Malloc,
    /// <summary>lttng_ust_libc:calloc.</summary>
    Calloc,
    /// <summary>lttng_ust_libc:realloc.</summary>
    Realloc,
    /// <summary>lttng_ust_libc:free.</summary>
    Free,
    /// <summary>lttng_ust_libc:memalign.</summary>
    Memalign,
    /// <summary>lttng_ust_libc:posix_memalign.</summary>
    PosixMemalign,
}

/// <summary>
/// One lttng_ust_libc event, reduced to what the importer needs.
/// <para>Invariants: fields an event kind does not carry are 0; <see cref="Vtid"/> and <see cref="Vpid"/> are
/// -1 when the trace has no such context; <see cref="TimestampNs"/> is ns since the Unix epoch (the raw clock
/// value plus the trace's clock offset, what babeltrace2 prints with <c>--clock-seconds</c>).</para>
/// </summary>
/// <param name="Kind">Which libc event (Other for any other event).</param>
/// <param name="TimestampNs">Event time in ns.</param>
/// <param name="Vtid">The vtid context (the thread's kernel tid as seen in its pid namespace), or -1.</param>
/// <param name="Vpid">The vpid context, or -1.</param>
/// <param name="Size">size (malloc, calloc element size, realloc, memalign, posix_memalign).</param>
/// <param name="Count">nmemb (calloc); 0 otherwise.</param>
/// <param name="Ptr">in_ptr (realloc) or ptr (free).</param>
/// <param name="Result">ptr (malloc, calloc, realloc, memalign) or out_ptr (posix_memalign).</param>
/// <param name="Alignment">alignment (memalign, posix_memalign).</param>
/// <param name="Status">result (posix_memalign's return value).</param>
/// <param name="Line">1-based index of the event in its source (event index in the CTF folder, or line of a text).</param>
public readonly record struct LttngLibcRecord(
    LttngLibcEventKind Kind, long TimestampNs, int Vtid, int Vpid,
    ulong Size, ulong Count, ulong Ptr, ulong Result, ulong Alignment, int Status, long Line)
{
    /// <summary>The process name from a procname context, or null.</summary>
    public string? Procname { get; init; }
}
