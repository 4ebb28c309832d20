using PtReplay.Traces.Symbols;

namespace PtReplay.Traces.Sites;

/// <summary>
/// Which frame of a recorded stack is the allocation site: the first one (from the innermost) that is not the
/// allocator's plumbing. Plumbing is every frame in the recorder (libptrecord), the malloc family's entry points and
/// internals in libc, and operator new / new[] (any module: libstdc++ or a program's own replacement calls malloc the
/// same way).
/// </summary>
public static class SiteClassifier
{
    private static readonly HashSet<string> MallocFamily = new(StringComparer.Ordinal)
    {
        "malloc", "calloc", "realloc", "reallocarray", "free", "memalign", "posix_memalign", "aligned_alloc", "valloc",
        "pvalloc", "__libc_malloc", "__libc_calloc", "__libc_realloc", "__libc_free", "__libc_memalign", "__libc_valloc",
        "__libc_pvalloc", "__posix_memalign", "__libc_reallocarray", "_int_malloc", "_int_realloc", "_int_memalign",
        "_mid_memalign", "tcache_init", "malloc_hook_ini", "sysmalloc",
    };

    /// <summary>True when <paramref name="frame"/> is the allocator's plumbing rather than the program's code.</summary>
    public static bool IsPlumbing(SymbolizedFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        string module = frame.Module is null ? "" : Path.GetFileName(frame.Module);
        if (module.StartsWith("libptrecord", StringComparison.Ordinal))
        {
            return true;
        }

        if (frame.Function.StartsWith("operator new", StringComparison.Ordinal) ||
            frame.Function.StartsWith("_Znw", StringComparison.Ordinal) || frame.Function.StartsWith("_Zna", StringComparison.Ordinal))
        {
            return true;
        }

        bool libc = module.StartsWith("libc.so", StringComparison.Ordinal) || module.StartsWith("libc-", StringComparison.Ordinal);
        return libc && MallocFamily.Contains(frame.Function);
    }

    /// <summary>The index of the site frame in <paramref name="frames"/> (innermost first): the first non-plumbing frame,
    /// the outermost one when all are plumbing, -1 for an empty stack.</summary>
    public static int SiteIndex(IReadOnlyList<SymbolizedFrame> frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        for (int i = 0; i < frames.Count; i++)
        {
            if (!IsPlumbing(frames[i]))
            {
                return i;
            }
        }

        return frames.Count - 1;
    }
}
