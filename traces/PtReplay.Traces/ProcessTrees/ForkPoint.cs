namespace PtReplay.Traces.ProcessTrees;

/// <summary>
/// Where a forked child's heap came from: the parent's trace and how many of its events (in the reader's
/// delivery order) happened before the fork. Replaying the parent's first <see cref="ParentEvents"/> events
/// rebuilds the heap the child inherited.
/// <para>Invariant: 0 &lt;= ParentEvents &lt;= the parent trace's event count.</para>
/// </summary>
/// <param name="ParentPath">The parent's trace file, as found on disk.</param>
/// <param name="ParentEvents">Events of the parent before the fork: the prefix to replay.</param>
/// <param name="ForkMarkerIndex">Index of the parent's fork marker naming the child; -1 when the parent has none (its trace was cut before it).</param>
/// <param name="ForkingThread">The parent's thread (its number in the parent's delivery order) that forked: the child's thread 0.</param>
public sealed record ForkPoint(string ParentPath, long ParentEvents, long ForkMarkerIndex, int ForkingThread);
