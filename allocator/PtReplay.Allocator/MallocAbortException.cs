namespace PtReplay.Allocator;

/// <summary>
/// glibc detected heap corruption (malloc_printerr): the real process would print
/// <see cref="GlibcMessage"/> and abort. The model stops instead; replay layers report the event index.
/// </summary>
public sealed class MallocAbortException : Exception
{
    /// <summary>Creates the exception for glibc's exact message.</summary>
    public MallocAbortException(string glibcMessage) : base(glibcMessage) => GlibcMessage = glibcMessage;

    /// <summary>Creates an exception without a glibc message (for serializers).</summary>
    public MallocAbortException() : this("malloc abort") { }

    /// <summary>Creates the exception wrapping another one.</summary>
    public MallocAbortException(string glibcMessage, Exception inner) : base(glibcMessage, inner) => GlibcMessage = glibcMessage;

    /// <summary>The message glibc prints before aborting, e.g. "free(): invalid pointer".</summary>
    public string GlibcMessage { get; }
}
