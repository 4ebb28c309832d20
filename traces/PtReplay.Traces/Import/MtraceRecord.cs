namespace PtReplay.Traces.Import;

/// <summary>What one logical mtrace record says (glibc 2.36 malloc/mtrace-impl.c writes these lines).</summary>
public enum MtraceRecordKind
{
    /// <summary>"= Start": tracing began (mtrace()).</summary>
    Start,
    /// <summary>"= End": tracing ended (muntrace()).</summary>
    End,
    /// <summary>"+ PTR SIZE": malloc, calloc (SIZE = count × size), realloc(NULL, n), memalign, aligned_alloc, posix_memalign, valloc, pvalloc. PTR may be "(nil)" for a failed call.</summary>
    Allocate,
    /// <summary>"- PTR": free(PTR) of a non-NULL pointer, or realloc(PTR, 0) (which frees and returns NULL).</summary>
    Free,
    /// <summary>"&lt; OLD" followed by "&gt; NEW SIZE": realloc(OLD, SIZE) = NEW with OLD and NEW non-NULL.</summary>
    Realloc,
    /// <summary>"! OLD SIZE": realloc(OLD, SIZE) with SIZE &gt; 0 returned NULL; OLD stays allocated.</summary>
    ReallocFailed,
}

/// <summary>
/// One logical record of an mtrace file: one line, or for a successful realloc the "&lt;" and "&gt;" pair.
/// </summary>
/// <param name="Kind">What the record is.</param>
/// <param name="Ptr">Input pointer: the freed pointer (Free), the old pointer (Realloc, ReallocFailed); 0 otherwise.</param>
/// <param name="Size">Requested bytes (Allocate, Realloc, ReallocFailed); 0 otherwise.</param>
/// <param name="Result">Returned pointer (Allocate: 0 when "(nil)"; Realloc: the new pointer); 0 otherwise.</param>
/// <param name="Caller">The caller field without "@ " and the trailing space, e.g. "./a.out:(main+0x1c)[0x1189]" or "[0x7f12...]"; null when glibc printed none.</param>
/// <param name="Line">1-based line number of the record's (first) line.</param>
public readonly record struct MtraceRecord(MtraceRecordKind Kind, ulong Ptr, ulong Size, ulong Result, string? Caller, long Line);
