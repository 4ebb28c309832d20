using System.Globalization;
using PtReplay.Replay.Preparation;
using PtReplay.Traces;
using PtReplay.Traces.ProcessTrees;

namespace PtReplay.Replay;

/// <summary>
/// A forked child's replay starts from the heap it inherited: its ancestors' events up to each fork go into
/// the prepared trace first, each followed by a <see cref="PreparedKind.Fork"/> op; the engines fork there
/// (the model as glibc's child, the native replayer with fork(2)) and measure only what follows.
/// </summary>
public static class InheritedReplay
{
    /// <summary>Adds every stage's prefix, then its fork, to <paramref name="preparer"/> (before the child's events).</summary>
    public static void AddPrefix(TracePreparer preparer, InheritedHeap inherited)
    {
        ArgumentNullException.ThrowIfNull(preparer);
        ArgumentNullException.ThrowIfNull(inherited);
        preparer.BeginInheritedPrefix();
        foreach (ForkPoint stage in inherited.Stages)
        {
            foreach (var (e, index) in preparer.InReplayOrder(InheritedHeap.ReadPrefix(stage)))
            {
                preparer.Add(in e, index);
            }

            preparer.AddFork(stage.ForkingThread, 0);
        }
    }
}
