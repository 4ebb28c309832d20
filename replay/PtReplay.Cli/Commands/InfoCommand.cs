using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;
using PtReplay.Traces.ProcessTrees;

namespace PtReplay.Cli.Commands;

/// <summary>`ptreplay info TRACE [--json]`: what a trace holds (<see cref="TraceStatistics"/>).</summary>
public static class InfoCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var trace = new Argument<string>("trace") { Description = "The trace file (raw recording or packed)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text (for scripts; keys below)." };
        var sites = new Option<bool>("--sites") { Description = "List the allocation sites instead (a trace recorded with --stacks; replays the model: see below)." };
        var top = new Option<int>("--top") { HelpName = "N", Description = "Sites per ranking with --sites. Default 10.", DefaultValueFactory = _ => 10 };
        var verb = new Command("info",
            "Summarise a trace: the recorded program, event counts per call kind, threads, duration, peak live " +
            "requested bytes (sum of the sizes callers asked for of the blocks allocated and not yet freed; " +
            "realloc replaces a block's size, a failed realloc keeps the old block, realloc(p, 0) frees), a " +
            "histogram of requested sizes in power-of-two buckets, anomalies (frees of unknown pointers, double " +
            "frees, reallocs of unknown pointers, allocations returning a live address) and whether the file is " +
            "complete, truncated or corrupt.\n\n" +
            "Examples:\n" +
            "  ptreplay info py.trace\n" +
            "  ptreplay info py.trace --json | jq .counts.malloc\n\n" +
            "JSON keys: file, bytes, bytes_per_event, format_version, recorder, glibc, executable, argv, command_line, pid, " +
            "parent_pid, origin (program, fork or exec), parent_trace (the trace this one continues, as found on disk; " +
            "null when none or missing), fork (fork child: {parent_events: events of the parent before the fork, " +
            "marker_index: the parent's fork marker, -1 when absent}, else null), " +
            "events, threads, thread_tids, counts (malloc, calloc, realloc, reallocarray, free, memalign, " +
            "posix_memalign, aligned_alloc, valloc, pvalloc: numbers, zeros included), markers, failed_calls, " +
            "free_null, duration_ns, peak_live_bytes, peak_live_blocks, peak_event_index, live_bytes_at_end, " +
            "live_blocks_at_end, size_histogram ([{min, max, count}], non-empty buckets), truncated, " +
            "truncated_at_offset, lost_events (events the recorder could not write: disk full, file size limit, or a signal handler's calls beyond the 1,048,576 its side buffer holds), " +
            "stacks (call stacks recorded with `record --stacks`: distinct stacks, 0 without), modules (executable mappings recorded for them), prefix_end_ns " +
            "(a cut multi-thread recording is read up to this timestamp, where the first thread without an exit marker ends; -1 when not cut so), corrupt (null or {offset, event_index, message}), anomalies ({kind: count, " +
            "examples: [{kind, event_index, event}]}).\n" +
            "A truncated trace is summarised up to its last complete block (exit code 0); a corrupt one up to " +
            "the damage (exit code 3).\n\n" +
            InfoSites.Help + "\n" +
            ExitCodes.Help)
        {
            trace, json, sites, top,
        };
        verb.SetAction(CliErrors.Guard("info", parse =>
        {
            string path = parse.GetValue(trace)!;
            if (parse.GetValue(sites))
            {
                return parse.GetValue(top) < 1
                    ? throw CliException.Usage($"--top {parse.GetValue(top)}: give 1 or more")
                    : InfoSites.Run(path, parse.GetValue(top), parse.GetValue(json));
            }

            using TraceReader reader = TraceReader.Open(CliPaths.Input(path));
            TraceStatistics stats;
            using (var progress = new ProgressDisplay())
            {
                stats = TraceStatistics.Compute(reader, progress.For("info"));
            }

            Console.Out.Write(parse.GetValue(json) ? Json(path, reader, stats) : Text(path, reader, stats));
            if (stats.Corruption is not null)
            {
                Console.Error.WriteLine($"ptreplay info: {stats.Corruption.Message}");
                return ExitCodes.BadInput;
            }

            return ExitCodes.Ok;
        }));
        return verb;
    }

    private static readonly EventKind[] Markers = [EventKind.ThreadStart, EventKind.ThreadExit, EventKind.Fork, EventKind.Exec];

    /// <summary>Calls on the allocator itself, not on a block (replayed where the program made them).</summary>
    private static readonly EventKind[] AllocatorControls = [EventKind.Mallopt, EventKind.MallocTrim];

    /// <summary>The JSON object of `info --json`.</summary>
    public static string Json(string path, TraceReader reader, TraceStatistics s)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(s);
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            TraceHeader h = reader.Header;
            w.WriteStartObject();
            w.WriteString("file", path);
            w.WriteNumber("bytes", reader.FileLength);
            w.WriteNumber("bytes_per_event", s.Events == 0 ? 0 : Math.Round((double)reader.FileLength / s.Events, 3));
            w.WriteNumber("format_version", h.FormatVersion);
            w.WriteString("recorder", h.RecorderVersion);
            if (h.AddressSpaceLimit is { } addressSpace)
            {
                w.WriteNumber("address_space_limit_bytes", addressSpace);
            }

            if (h.DataLimit is { } data)
            {
                w.WriteNumber("data_limit_bytes", data);
            }

            w.WriteString("glibc", h.GlibcVersion);
            w.WriteString("executable", h.ExecutablePath);
            w.WriteStartArray("argv");
            foreach (string a in h.Argv)
            {
                w.WriteStringValue(a);
            }

            w.WriteEndArray();
            w.WriteString("command_line", h.CommandLine);
            w.WriteNumber("pid", h.Pid);
            w.WriteNumber("parent_pid", h.ParentPid);
            w.WriteString("origin", OriginName(h.Origin));
            string? parent = ProcessLink.ParentFile(reader.Path, h);
            if (parent is null)
            {
                w.WriteNull("parent_trace");
            }
            else
            {
                w.WriteString("parent_trace", parent);
            }

            if (ProcessLink.FindFork(reader.Path, h) is { } fork)
            {
                w.WriteStartObject("fork");
                w.WriteNumber("parent_events", fork.ParentEvents);
                w.WriteNumber("marker_index", fork.ForkMarkerIndex);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("fork");
            }

            w.WriteNumber("events", s.Events);
            w.WriteNumber("threads", s.Threads);
            w.WriteStartArray("thread_tids");
            foreach (int tid in reader.ThreadTids)
            {
                w.WriteNumberValue(tid);
            }

            w.WriteEndArray();
            EventKindJson.WriteCounts(w, "counts", EventKinds.Calls, s.Count);
            EventKindJson.WriteCounts(w, "markers", Markers, s.Count);
            EventKindJson.WriteCounts(w, "allocator_calls", AllocatorControls, s.Count);
            w.WriteNumber("failed_calls", s.FailedCalls);
            w.WriteNumber("free_null", s.FreesOfNull);
            w.WriteNumber("duration_ns", s.DurationNs);
            w.WriteNumber("peak_live_bytes", s.PeakLiveBytes);
            w.WriteNumber("peak_live_blocks", s.PeakLiveBlocks);
            w.WriteNumber("peak_event_index", s.PeakEventIndex);
            w.WriteNumber("live_bytes_at_end", s.LiveBytes);
            w.WriteNumber("live_blocks_at_end", s.LiveBlocks);
            w.WriteStartArray("size_histogram");
            for (int b = 0; b < TraceStatistics.HistogramBuckets; b++)
            {
                if (s.SizeHistogram[b] == 0)
                {
                    continue;
                }

                w.WriteStartObject();
                w.WriteNumber("min", TraceStatistics.BucketLowerBound(b));
                w.WriteNumber("max", b == 0 ? 0 : b == 64 ? ulong.MaxValue : TraceStatistics.BucketLowerBound(b + 1) - 1);
                w.WriteNumber("count", s.SizeHistogram[b]);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteBoolean("truncated", s.Truncated);
            w.WriteNumber("truncated_at_offset", s.TruncatedAtOffset);
            w.WriteNumber("lost_events", s.LostEvents);
            w.WriteNumber("stacks", reader.Stacks.Count);
            w.WriteNumber("modules", reader.Stacks.Modules.Count);
            w.WriteNumber("prefix_end_ns", s.PrefixEndTimestamp);
            if (s.Corruption is { } c)
            {
                w.WriteStartObject("corrupt");
                w.WriteNumber("offset", c.ByteOffset);
                w.WriteNumber("event_index", c.EventIndex);
                w.WriteString("message", c.Message);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("corrupt");
            }

            w.WriteStartObject("anomalies");
            foreach (TraceAnomalyKind k in Enum.GetValues<TraceAnomalyKind>())
            {
                w.WriteNumber(TraceAnomaly.JsonName(k), s.AnomalyCount(k));
            }

            w.WriteStartArray("examples");
            foreach (TraceAnomaly a in s.AnomalyExamples)
            {
                w.WriteStartObject();
                w.WriteString("kind", TraceAnomaly.JsonName(a.Kind));
                w.WriteNumber("event_index", a.EventIndex);
                w.WriteString("event", a.Event.ToString());
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>The human-readable summary.</summary>
    public static string Text(string path, TraceReader reader, TraceStatistics s)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(s);
        CultureInfo inv = CultureInfo.InvariantCulture;
        var t = new StringBuilder();
        TraceHeader h = reader.Header;
        t.AppendLine(inv, $"trace      {path}: {reader.FileLength:N0} bytes, {(s.Events == 0 ? 0 : (double)reader.FileLength / s.Events):F2} bytes/event, format {h.FormatVersion}, {(!reader.IsMerged ? "packed, time-ordered blocks" : reader.CompressedBlockCount > 0 ? "packed per-thread blocks" : "raw per-thread blocks")}");
        t.AppendLine(inv, $"program    {(h.Argv.Count > 0 ? OneLine.Of(string.Join(' ', h.Argv)) : "?")} ({(h.ExecutablePath.Length > 0 ? h.ExecutablePath : "unknown executable")}), pid {h.Pid}, parent {h.ParentPid}");
        t.AppendLine(inv, $"process    {Origin(reader.Path, h)}");
        t.AppendLine(inv, $"recorder   {h.RecorderVersion}; glibc {h.GlibcVersion}; {h.OnlineCpus} CPUs; page {h.PageSize}; brk0 0x{h.Brk0:x}; clock {h.ClockName} ({h.ClockResolutionNs} ns)");
        if (h.MemoryLimits is { Length: > 0 } limits)
        {
            t.AppendLine(inv, $"limits     {limits}: calls that failed under them succeed in replays");
        }

        if (h.MallocEnvironment.Count > 0)
        {
            t.AppendLine(inv, $"malloc env {string.Join(' ', h.MallocEnvironment)}");
        }

        t.AppendLine(inv, $"events     {s.Events:N0} in {s.Threads} thread(s) over {s.DurationNs / 1e9:F6} s");
        if (reader.Stacks.Count == 0 && reader.Stacks.Modules.Count == 0)
        {
            t.AppendLine("stacks     none recorded (record --stacks records them)");
        }
        else
        {
            t.AppendLine(inv, $"stacks     {reader.Stacks.Count:N0} distinct call stacks in {reader.Stacks.Modules.Count:N0} module mappings");
        }
        t.AppendLine("calls");
        foreach (EventKind k in EventKinds.Calls)
        {
            t.AppendLine(inv, $"  {k.CName(),-15} {s.Count(k),14:N0}");
        }

        t.AppendLine(inv, $"  failed calls {s.FailedCalls:N0}; free(NULL) {s.FreesOfNull:N0}");
        t.AppendLine(inv, $"markers    thread start {s.Count(EventKind.ThreadStart):N0}, thread exit {s.Count(EventKind.ThreadExit):N0}, fork {s.Count(EventKind.Fork):N0}, exec {s.Count(EventKind.Exec):N0}");
        if (s.Count(EventKind.Mallopt) + s.Count(EventKind.MallocTrim) > 0)
        {
            t.AppendLine(inv, $"allocator  mallopt {s.Count(EventKind.Mallopt):N0}, malloc_trim {s.Count(EventKind.MallocTrim):N0} (replayed where the program made them)");
        }

        t.AppendLine(inv, $"live       peak {s.PeakLiveBytes:N0} requested bytes (after event {s.PeakEventIndex:N0}), peak {s.PeakLiveBlocks:N0} blocks; at end {s.LiveBytes:N0} bytes in {s.LiveBlocks:N0} blocks");
        t.AppendLine("sizes      requested bytes of allocating calls, power-of-two buckets");
        long max = s.SizeHistogram.Max();
        for (int b = 0; b < TraceStatistics.HistogramBuckets; b++)
        {
            long n = s.SizeHistogram[b];
            if (n == 0)
            {
                continue;
            }

            string range = b == 0 ? "0" : $"[{Pow2(b - 1)}, {(b == 64 ? "16E" : Pow2(b))})";
            t.AppendLine(inv, $"  {range,-14} {n,14:N0} {new string('#', (int)Math.Ceiling(40.0 * n / max))}");
        }

        long anomalies = Enum.GetValues<TraceAnomalyKind>().Sum(s.AnomalyCount);
        if (anomalies == 0)
        {
            t.AppendLine("anomalies  none");
        }
        else
        {
            t.AppendLine(inv, $"anomalies  {string.Join(", ", Enum.GetValues<TraceAnomalyKind>().Where(k => s.AnomalyCount(k) > 0).Select(k => $"{TraceAnomaly.JsonName(k)} {s.AnomalyCount(k):N0}"))}");
            foreach (TraceAnomaly a in s.AnomalyExamples.Take(5))
            {
                t.AppendLine(inv, $"  event {a.EventIndex:N0}: {TraceAnomaly.JsonName(a.Kind)}: {a.Event}");
            }
        }

        t.AppendLine(s.Corruption is { } c
            ? $"status     CORRUPT at byte offset {c.ByteOffset} (event index {c.EventIndex}): {c.Problem}"
            : s.Truncated
                ? $"status     truncated at byte offset {s.TruncatedAtOffset} (no end block: the program did not exit normally, or the file was cut); read up to the last complete block" +
                  (s.PrefixEndTimestamp >= 0
                      ? $"; every thread whole up to @{s.PrefixEndTimestamp}ns, where the first of the threads without an exit marker " +
                        $"({string.Join(", ", s.ThreadsWithoutEnd.Select(t => "tid " + t.ToString(inv)))}) ends (their tails may be missing); " +
                        (s.StoppedAtTimestamp >= 0
                            ? $"later events read until @{s.StoppedAtTimestamp}ns, where one refers to a missing event"
                            : "later events read to the end, none referring to a missing event")
                      : "")
                : s.LostEvents > 0
                    ? $"status     complete, but {s.LostEvents:N0} events were not recorded: the recorder could not write them (disk full, file size limit, or a signal handler's calls beyond the 1,048,576 its side buffer holds); the trace holds every event before"
                    : "status     complete");
        return t.ToString();
    }

    /// <summary>The origin as `info --json` names it.</summary>
    public static string OriginName(TraceOrigin origin) => origin switch
    {
        TraceOrigin.ForkedChild => "fork",
        TraceOrigin.ExecutedImage => "exec",
        _ => "program",
    };

    /// <summary>How the process image began, for the text summary.</summary>
    private static string Origin(string path, TraceHeader h)
    {
        string? parent = ProcessLink.ParentFile(path, h);
        return h.Origin switch
        {
            TraceOrigin.ForkedChild when ProcessLink.FindFork(path, h) is { } f =>
                string.Create(CultureInfo.InvariantCulture, $"forked by {Path.GetFileName(f.ParentPath)} after its event {f.ParentEvents:N0}: replays start from that heap"),
            TraceOrigin.ForkedChild => h.ParentTrace.Length == 0
                ? "forked (the parent was not recorded)"
                : $"forked by {h.ParentTrace}, which is missing or holds no trace of the fork",
            TraceOrigin.ExecutedImage => parent is null ? "exec'd (empty heap)" : $"exec'd by {Path.GetFileName(parent)} (empty heap)",
            _ => "the started program",
        };
    }

    /// <summary>A power of two as 512, 1K, 64M, 2G, ...</summary>
    private static string Pow2(int log2) => log2 switch
    {
        >= 60 => $"{1UL << (log2 - 60)}E",
        >= 50 => $"{1UL << (log2 - 50)}P",
        >= 40 => $"{1UL << (log2 - 40)}T",
        >= 30 => $"{1UL << (log2 - 30)}G",
        >= 20 => $"{1UL << (log2 - 20)}M",
        >= 10 => $"{1UL << (log2 - 10)}K",
        _ => $"{1UL << log2}",
    };
}
