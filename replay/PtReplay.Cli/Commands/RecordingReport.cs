using System.Globalization;
using System.Text;
using PtReplay.Traces;
using PtReplay.Traces.Packing;
using PtReplay.Traces.ProcessTrees;
using PtReplay.Traces.Recording;

namespace PtReplay.Cli.Commands;

/// <summary>After `record`: packs the traces (unless --raw) and prints the one-line summary to stderr.</summary>
internal static class RecordingReport
{
    /// <summary>
    /// Finishes packing every trace of the run in place when <paramref name="packer"/> is given (it packed while the
    /// program ran), then describes the started program's trace. <paramref name="lostEvents"/> gets the events the
    /// recorder could not write, over every trace of the run.
    /// </summary>
    public static string Finish(RecordingResult result, OnlinePacker? packer, out long lostEvents)
    {
        lostEvents = 0;
        bool pack = packer is not null;
        if (!File.Exists(result.TracePath))
        {
            packer?.Dispose();
            if (result.Unrecorded.FirstOrDefault(u => u.Pid == result.ProcessId && u.Unrecorded) is { } root)
            {
                return $"ptreplay record: no trace was written to {result.TracePath}: {root.Path} is {root.Explanation}; " +
                       "record a dynamically linked build of it, or a set-id program as the user it runs as" + Unrecorded(result, skip: root);
            }

            return $"ptreplay record: no trace was written to {result.TracePath} (the program may not be dynamically linked, " +
                   "or it could not load the recorder)" + Unrecorded(result, skip: null);
        }

        // The traces of processes still running are being written: they stay raw (packing them would cut them).
        var running = result.StillRunning.ToHashSet();
        IReadOnlyList<PackedTrace> packed = packer?.Finish(result.ChildTraces.Where(c => !running.Contains(Recorder.ChildPid(c, result.TracePath)))
            .Prepend(result.TracePath)) ?? [];
        RecordingSummary s = RecordingSummary.Of(result.TracePath);
        lostEvents = s.LostEvents;
        foreach (string trace in result.ChildTraces)
        {
            using TraceReader reader = TraceReader.Open(trace);
            lostEvents += reader.LostEvents;
        }

        var line = string.Create(CultureInfo.InvariantCulture,
            $"ptreplay record: {result.TracePath}: {s.Events:N0} events, {s.Threads} thread{(s.Threads == 1 ? "" : "s")}, " +
            $"{s.DurationNs / 1e9:F3} s traced, {s.BytesPerEvent:F2} bytes/event ({(pack ? "packed" : "raw")})");
        if (s.LostEvents > 0)
        {
            line += string.Create(CultureInfo.InvariantCulture,
                $", {s.LostEvents:N0} events LOST: the recorder could not write them (disk full or file size limit)");
        }

        if (s.Truncated)
        {
            line += result.ExitCode > 128
                ? string.Create(CultureInfo.InvariantCulture, $", truncated (signal {result.ExitCode - 128} ended the program)")
                : ", truncated (the program did not exit normally)";
        }

        line += result.ChildTraces.Count switch
        {
            0 => ", no child traces",
            1 => ", 1 child trace",
            int k => string.Create(CultureInfo.InvariantCulture, $", {k} child traces"),
        };
        if (result.ChildTraces.Count > 0)
        {
            line += "\n" + Tree(result);
        }

        return line + StillRunning(result) + Unrecorded(result, skip: null) + PackingNote(packed, packer?.Failure);
    }

    /// <summary>The processes still recording when `record` stopped waiting for them, in one line, or "".</summary>
    private static string StillRunning(RecordingResult result)
    {
        int n = result.StillRunning.Count;
        if (n == 0)
        {
            return "";
        }

        string pids = string.Join(", ", result.StillRunning.Select(p => p.ToString(CultureInfo.InvariantCulture)));
        return $"\nptreplay record: {(n == 1 ? "1 process was" : n.ToString(CultureInfo.InvariantCulture) + " processes were")} still running " +
               $"when record stopped waiting (pid {pids}): {(n == 1 ? "its trace is" : "their traces are")} incomplete, left raw, and " +
               "still being written (--wait-children SECONDS waits longer)";
    }

    /// <summary>
    /// The programs that ran without the recorder, one line each (pid, path, why, command line), or "": their calls are
    /// missing from the recording and they have no trace in the tree.
    /// </summary>
    private static string Unrecorded(RecordingResult result, UnrecordedProgram? skip)
    {
        var text = new StringBuilder();
        var programs = result.Unrecorded.Where(u => u != skip && u.Unrecorded).ToList();
        if (programs.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"\nptreplay record: {programs.Count} program{(programs.Count == 1 ? "" : "s")} ran without the recorder; their calls are not in the recording:");
            foreach (UnrecordedProgram u in programs)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n  pid {u.Pid} {u.Path}: {u.Explanation}: ")
                    .Append(OneLine.Shortened(u.CommandLine, TreeCommandLineChars));
            }
        }

        var own = result.Unrecorded.Where(u => !u.Unrecorded).ToList();
        if (own.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"\nptreplay record: {own.Count} program{(own.Count == 1 ? "" : "s")} allocated through {(own.Count == 1 ? "its" : "their")} own malloc, which the recorder cannot come before; {(own.Count == 1 ? "its trace holds" : "their traces hold")} only the calls that reach glibc's:");
            foreach (UnrecordedProgram u in own)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n  pid {u.Pid}: malloc defined in {u.Path}: ")
                    .Append(OneLine.Shortened(u.CommandLine, TreeCommandLineChars));
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// One line when packing did not all happen while the program ran: the online packer failed or was behind by
    /// more than a block's worth (so the rest was packed after exit), or a trace was packed again from its start.
    /// </summary>
    private static string PackingNote(IReadOnlyList<PackedTrace> packed, Exception? failure)
    {
        long total = packed.Sum(p => p.InputBytes), after = packed.Sum(p => p.BytesAfterExit);
        string? why = failure is not null ? $"the online packer failed ({failure.Message})"
            : packed.FirstOrDefault(p => p.Note is not null)?.Note;
        if (why is null && after <= 4 << 20)
        {
            return "";
        }

        if (why is null)
        {
            // Not a fault: the packer takes only CPU nothing else wants (SCHED_IDLE), so on a busy machine it waits.
            return string.Create(CultureInfo.InvariantCulture,
                $"\nptreplay record: {after / 1e6:F1} of {total / 1e6:F1} MB of raw trace were packed after the program exited (while the program ran, packing used only idle CPU, and there was little)");
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"\nptreplay record: {why}; {after / 1e6:F1} of {total / 1e6:F1} MB of raw trace were packed after the program exited");
    }

    /// <summary>
    /// The tree of traces: one line each, indented under the trace it continues, with how it began (fork at
    /// which parent event, exec), pid, command line, events, and the exit code where known (the started
    /// process's last image: the program's exit code).
    /// </summary>
    public static string Tree(RecordingResult result)
    {
        IReadOnlyList<TraceTreeNode> roots = TraceTree.Build(result.ChildTraces.Prepend(result.TracePath));
        TraceTreeNode? lastImage = LastImageOfStartedProcess(roots, result.TracePath);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"ptreplay record: process tree ({result.ChildTraces.Count + 1} traces):");
        var seen = new HashSet<TraceTreeNode>();
        foreach (TraceTreeNode root in roots)
        {
            Append(text, root, "", "", seen, lastImage == root ? result.ExitCode : null, lastImage, result.ExitCode, result.StillRunning.ToHashSet());
        }

        return text.ToString();
    }

    /// <summary>The longest command line a line of the process tree shows; `info` (and `info --json`) show it whole.</summary>
    internal const int TreeCommandLineChars = 160;

    private static void Append(StringBuilder text, TraceTreeNode node, string lead, string childLead,
        HashSet<TraceTreeNode> seen, int? exit, TraceTreeNode? lastImage, int exitCode, HashSet<int> running)
    {
        if (!seen.Add(node))
        {
            return;
        }

        TraceHeader h = node.Header;
        RecordingSummary s = RecordingSummary.Of(node.Path);
        string how = h.Origin switch
        {
            TraceOrigin.ForkedChild => ProcessLink.FindFork(node.Path, h) is { } f
                ? string.Create(CultureInfo.InvariantCulture, $"fork at parent event {f.ParentEvents:N0}, ")
                : "fork, ",
            TraceOrigin.ExecutedImage => "exec, ",
            _ => "",
        };
        string end = running.Contains(h.Pid) && node.Truncated ? ", still running (incomplete)" : node.Truncated ? ", cut short (killed?)" : exit is { } code ? string.Create(CultureInfo.InvariantCulture, $", exit {code}") : "";
        text.Append('\n').Append("  ").Append(lead).Append(Path.GetFileName(node.Path))
            .Append(CultureInfo.InvariantCulture, $"  {how}pid {h.Pid}, {s.Events:N0} events{end}: ")
            .Append(OneLine.Shortened(h.Argv.Count > 0 ? h.CommandLine : h.ExecutablePath, TreeCommandLineChars));
        for (int i = 0; i < node.Children.Count; i++)
        {
            bool last = i == node.Children.Count - 1;
            TraceTreeNode child = node.Children[i];
            Append(text, child, childLead + (last ? "└─ " : "├─ "), childLead + (last ? "   " : "│  "), seen,
                child == lastImage ? exitCode : null, lastImage, exitCode, running);
        }
    }

    /// <summary>The started process's last program image: follow exec'd images of the root's pid.</summary>
    private static TraceTreeNode? LastImageOfStartedProcess(IReadOnlyList<TraceTreeNode> roots, string tracePath)
    {
        TraceTreeNode? node = roots.FirstOrDefault(r => r.Path == Path.GetFullPath(tracePath));
        for (int guard = 0; node is not null && guard < 1000; guard++)
        {
            TraceTreeNode? next = node.Children.LastOrDefault(c => c.Header.Origin == TraceOrigin.ExecutedImage && c.Header.Pid == node.Header.Pid);
            if (next is null)
            {
                break;
            }

            node = next;
        }

        return node;
    }
}
