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
    /// <summary>
    /// Why <paramref name="inherited"/> cannot be replayed this way (null when it can). The model forks any prefix as
    /// glibc's child (the forking thread goes on as the child's thread 0, the others are gone). With
    /// <paramref name="nativeEngines"/>, every prefix must be one thread's: the native replayer can only fork while it
    /// runs a single thread.
    /// </summary>
    public static string? WhyNot(InheritedHeap inherited, bool nativeEngines)
    {
        ArgumentNullException.ThrowIfNull(inherited);
        if (!nativeEngines)
        {
            return null;
        }

        foreach (ForkPoint stage in inherited.Stages)
        {
            if (stage.ForkingThread != 0 || InheritedHeap.ReadPrefix(stage).Any(e => e.Thread != 0))
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"{Path.GetFileName(stage.ParentPath)} had more than one thread before the fork (the native replayer forks only while it runs one thread; `--engine sim` alone and `verify` replay it from the parent's heap)");
            }
        }

        return null;
    }

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
