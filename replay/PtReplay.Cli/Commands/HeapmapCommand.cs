using System.CommandLine;
using System.Globalization;
using System.Text;
using PtReplay.Allocator;
using PtReplay.Allocator.Diagnostics;
using PtReplay.Allocator.Tunables;
using PtReplay.Replay;
using PtReplay.Replay.HeapMaps;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Reports.Plots;
using PtReplay.Results.HeapMaps;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay heapmap TRACE --at OP|peak|end [-o FILE]... [--json]`: replays the trace into the ptmalloc model (as
/// `replay --engine sim --sim-preamble none`) up to a moment and shows every chunk of its heap by state.
/// </summary>
public static class HeapmapCommand
{
    /// <summary>What "peak" means.</summary>
    public const string PeakDefinition = "the first op after which the model's committed footprint (break extent + arena heaps' read/write bytes + mmapped chunks) is largest";

    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var trace = new Argument<FileInfo>("TRACE") { Description = "The trace to replay (from `ptreplay record`)." };
        var at = new Option<string>("--at")
        {
            HelpName = "OP|peak|end",
            Description = "The moment: OP = after that many ops of the prepared trace (0 to the op count `replay` prints as " +
                "calls plus thread exits); peak = " + PeakDefinition + "; end = after the last op.",
            DefaultValueFactory = _ => "end",
        };
        var output = new Option<string[]>("--output", "-o")
        {
            HelpName = "FILE",
            Description = "Write the map (repeatable): FILE.json (per arena and heap: range, bytes by state, largest free chunk, free " +
                "chunks per bin kind and size class, bytes per state in 512 address buckets), FILE.svg or FILE.png (one band per " +
                "heap, coloured by chunk state, drawn from the buckets).",
            AllowMultipleArgumentsPerToken = false,
        };
        var json = new Option<bool>("--json") { Description = "Print the JSON map on stdout instead of the text summary." };
        var trim = new Option<bool>("--trim")
        {
            Description = "Also say what malloc_trim(0) would give back at that moment (committed and resident bytes): once the " +
                "map is read, the model is trimmed there and what it gave back measured.",
        };
        var overTime = new Option<bool>("--over-time")
        {
            Description = "Instead of one moment: the heap over the whole replay, at up to 300 evenly spaced moments, one band per " +
                "heap (main heap and thread-arena heaps), x = time, y = offset in the heap, each cell coloured by the chunk state " +
                "holding the most bytes there. -o FILE.json / .svg / .png; aggregated to cells, so a 16 M-call trace with a 1 GiB " +
                "heap draws as fast as a small one. The model is replayed twice (extents, then states).",
        };
        var tunables = new Option<string?>("--tunables") { Description = "glibc tunables applied to the model (as `replay --tunables`). Default: the recorded process's malloc environment." };
        var verb = new Command("heapmap",
            "Show the model's heap at one moment of a replay: every chunk of the main arena's break heap, of each thread " +
            "arena's heaps and each mmapped chunk, as in use, free in tcache / fastbin / unsorted / small bin / large bin, top " +
            "or mmapped. The text summary gives per arena its extent, in-use bytes, free bytes per bin kind, top, the largest " +
            "free chunk, and the model's mallinfo2 (arena, uordblks, fordblks) to compare with the program's own.\n\n" +
            "Examples:\n" +
            "  ptreplay heapmap app.trace --at end -o end.svg -o end.json\n" +
            "  ptreplay heapmap app.trace --at peak --json | jq '.arenas[0].bin_kinds'\n\n" +
            ExitCodes.Help)
        {
            trace, at, output, json, trim, overTime, tunables,
        };
        verb.SetAction(CliErrors.Guard("heapmap", parse =>
        {
            string atText = parse.GetValue(at) ?? "end";
            SimStop stop = ParseAt(atText);
            string[] outputs = parse.GetValue(output) ?? [];
            foreach (string o in outputs)
            {
                if (Format(o) is null)
                {
                    throw CliException.Usage($"-o {o}: give a .json, .svg or .png file");
                }

                CliPaths.OutputFile(o);
            }

            string? tunableText = parse.GetValue(tunables);
            string? checkedTunables = tunableText is null ? null : MallocTunables.ParseChecked(tunableText).ToGlibcTunables();
            string file = CliPaths.Input(parse.GetValue(trace)!.FullName);
            string work = Directory.CreateTempSubdirectory("ptreplay-heapmap-").FullName;
            try
            {
                var options = new ReplayOptions { Tunables = checkedTunables };
                if (parse.GetValue(overTime))
                {
                    PreparedInput timed = ReplayRunner.PrepareFile(file, work, options, new PreparationOptions().WithRecordedTimes());
                    HeapTimelineFile timeline;
                    try
                    {
                        timeline = HeapTimelineBuilder.Build(timed, options, checkedTunables, progress: line => Console.Error.WriteLine($"heapmap: {line}"));
                    }
                    catch (MallocAbortException ex)
                    {
                        throw CliException.BadInput(ex.GlibcMessage, ex);
                    }

                    foreach (string o in outputs)
                    {
                        WriteTimeline(timeline, o);
                    }

                    Console.Out.Write(parse.GetValue(json) ? HeapMapJson.Serialize(timeline) + "\n" : TimelineText(timeline));
                    return ExitCodes.Ok;
                }

                PreparedInput input = ReplayRunner.PrepareFile(file, work, options, new PreparationOptions());
                (PreparedTrace prepared, Traces.TraceHeader header) = (input.Prepared, input.ModelHeader);
                if (stop.Kind == SimStopKind.AfterOps && stop.Ops > prepared.OpCount)
                {
                    throw CliException.Usage(string.Create(CultureInfo.InvariantCulture,
                        $"--at {stop.Ops}: the trace has {prepared.OpCount} ops (give 0 to {prepared.OpCount}, peak or end)"));
                }

                Ptmalloc model;
                long ops;
                ulong committed;
                try
                {
                    (model, ops, committed) = SimSnapshot.Run(prepared, header, options, checkedTunables, stop);
                }
                catch (MallocAbortException ex)
                {
                    throw CliException.BadInput(ex.GlibcMessage, ex);
                }

                HeapMapFile map = HeapMapBuilder.Build(model.WalkHeap(), model.MallInfo2(), new HeapMapFile
                {
                    Trace = file,
                    At = stop.Kind == SimStopKind.AfterOps ? string.Create(CultureInfo.InvariantCulture, $"op {stop.Ops}") : atText,
                    Ops = ops,
                    TotalOps = prepared.OpCount,
                    PeakDefinition = PeakDefinition,
                    CommittedBytes = committed,
                });
                if (parse.GetValue(trim))
                {
                    map = map with { Trim = TrimEstimator.TrimAndMeasure(model) }; // the map is built: the model may change now
                }

                foreach (string o in outputs)
                {
                    Write(map, o);
                }

                Console.Out.Write(parse.GetValue(json) ? HeapMapJson.Serialize(map) + "\n" : Text(map));
                return ExitCodes.Ok;
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        }));
        return verb;
    }

    /// <summary>Parses --at: a non-negative op count, peak or end; anything else is a usage error.</summary>
    public static SimStop ParseAt(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text switch
        {
            "end" => new SimStop(SimStopKind.End),
            "peak" => new SimStop(SimStopKind.PeakFootprint),
            _ when long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long n) => new SimStop(SimStopKind.AfterOps, n),
            _ => throw CliException.Usage($"--at {text}: give an op count (0 or more), peak or end"),
        };
    }

    private static string? Format(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".json" => "json",
        ".svg" => "svg",
        ".png" => "png",
        _ => null,
    };

    private static void WriteTimeline(HeapTimelineFile timeline, string path)
    {
        string full = Path.GetFullPath(path);
        switch (Format(path))
        {
            case "json": File.WriteAllText(full, HeapMapJson.Serialize(timeline) + "\n"); break;
            case "svg": File.WriteAllText(full, HeapTimelinePlot.Svg(timeline)); break;
            default: HeapTimelinePlot.SavePng(timeline, full); break;
        }
    }

    /// <summary>The text summary of a timeline: per heap its place, largest extent and the share of cells per state.</summary>
    public static string TimelineText(HeapTimelineFile timeline)
    {
        ArgumentNullException.ThrowIfNull(timeline);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"heap over time: {timeline.Moments.Count} moments over {timeline.TotalOps} ops, {timeline.Panels.Count} heap(s)");
        sb.Append(timeline.PanelsLeftOut > 0 ? string.Create(inv, $" ({timeline.PanelsLeftOut} more not drawn)") : "").Append('\n');
        foreach (HeapTimelinePanel p in timeline.Panels)
        {
            var counts = new long[timeline.States.Count];
            long cells = 0;
            foreach (IReadOnlyList<int> row in p.Cells)
            {
                foreach (int s in row)
                {
                    if (s >= 0)
                    {
                        counts[s]++;
                        cells++;
                    }
                }
            }

            sb.Append(inv, $"arena {p.Arena} {p.Kind} 0x{p.Start:x}: up to {p.SpanBytes} B, {p.BucketBytes} B per cell; cells by state: ");
            sb.AppendJoin(", ", counts.Select((n, s) => (n, s)).Where(x => x.n > 0).OrderByDescending(x => x.n)
                .Select(x => string.Create(inv, $"{timeline.States[x.s]} {100.0 * x.n / Math.Max(1, cells):0.#}%")));
            sb.Append('\n');
        }

        if (timeline.PeakMmappedBytes > 0)
        {
            sb.Append(inv, $"mmapped chunks (not drawn): up to {timeline.PeakMmappedBytes} B\n");
        }

        return sb.ToString();
    }

    private static void Write(HeapMapFile map, string path)
    {
        string full = Path.GetFullPath(path);
        switch (Format(path))
        {
            case "json": File.WriteAllText(full, HeapMapJson.Serialize(map) + "\n"); break;
            case "svg": File.WriteAllText(full, HeapMapPlot.Svg(map)); break;
            default: HeapMapPlot.SavePng(map, full); break;
        }
    }

    /// <summary>The text summary: per arena extent, in use, free per bin kind, top, largest free chunk; mmapped chunks; mallinfo2.</summary>
    public static string Text(HeapMapFile map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"heap map at {map.At}: op {map.Ops} of {map.TotalOps}, committed {map.CommittedBytes} B\n");
        foreach (HeapMapArena a in map.Arenas)
        {
            HeapMapStateBytes b = a.Bytes;
            sb.Append(inv, $"arena {a.Arena}: {a.Heaps.Count} heap(s), extent {a.ExtentBytes} B, in use {b.InUse} B, top {b.Top} B, largest free chunk {a.LargestFreeChunk} B\n");
            foreach (HeapMapHeap h in a.Heaps)
            {
                sb.Append(inv, $"  {h.Kind} 0x{h.Start:x}-0x{h.End:x} ({h.End - h.Start} B)\n");
            }

            foreach (HeapMapBinRow r in a.BinKinds)
            {
                sb.Append(inv, $"  free in {r.Kind,-9} {r.Bytes,14} B in {r.Count} chunk(s)\n");
            }

            if (b.Fencepost != 0)
            {
                sb.Append(inv, $"  fenceposts {b.Fencepost} B\n");
            }
        }

        sb.Append(inv, $"mmapped: {map.Mmapped.Count} chunk(s), {map.Mmapped.Bytes} B\n");
        if (map.UnwalkedMainBytes != 0)
        {
            sb.Append(inv, $"main arena split by an mmap fallback: {map.UnwalkedMainBytes} B not walked\n");
        }

        HeapMapMallinfo mi = map.Mallinfo2;
        sb.Append(inv, $"model mallinfo2: arena {mi.Arena}, uordblks {mi.Uordblks}, fordblks {mi.Fordblks}, hblkhd {mi.Hblkhd}\n");
        if (map.Trim is { } t)
        {
            sb.Append(inv, $"malloc_trim(0) would give back {t.CommittedBytes} B committed, {t.ResidentBytes} B resident\n");
        }

        return sb.ToString();
    }
}
