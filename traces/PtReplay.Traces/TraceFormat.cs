namespace PtReplay.Traces;

/// <summary>Constants of the on-disk format; traces/FORMAT.md is the specification they follow.</summary>
public static class TraceFormat
{
    /// <summary>
    /// The format version this code writes and the newest it reads. 2: the block CRC covers the block header too
    /// (version 1 files, whose block CRC covers the payload only, are still read).
    /// </summary>
    public const int CurrentVersion = 2;

    /// <summary>
    /// Version 3 is version 2 whose end block carries a payload: the number of events the recorder could not
    /// write (disk full, file size limit). Writers mark a file version 3 only when it has such an end block,
    /// so readers that know version 2 refuse it instead of taking the trace for a whole one.
    /// </summary>
    public const int LostEventsVersion = 3;

    /// <summary>
    /// Version 4 is version 3 with call stacks (<c>record --stacks</c>): stack-table blocks (modules and stack
    /// definitions) and event blocks whose allocating events carry a stack id; its end block may carry the events
    /// lost as in version 3. Writers mark a file version 4 only when it holds stacks, so readers of versions 2-3
    /// refuse it instead of misreading the stack ids.
    /// </summary>
    public const int StacksVersion = 4;

    /// <summary>
    /// Version 5 is version 4 whose per-thread blocks carry timestamps that are only hints across threads (the
    /// recorder from 0.6 on, once a second thread started: unfenced, mostly repeated clock readings), so readers order
    /// the threads' events by their address lifecycles as well (<see cref="TraceReader.IsLifecycleOrdered"/>);
    /// stacks and lost events are optional in it. Readers of versions 2-4 refuse it instead of merging by time alone.
    /// </summary>
    public const int MultiThreadOrderVersion = 5;

    /// <summary>The newest version this code reads.</summary>
    public const int NewestReadable = MultiThreadOrderVersion;
}
