using System.CommandLine;
using System.Globalization;
using PtReplay.Allocator.Tunables;
using PtReplay.Replay;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Parity;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Results;
using PtReplay.Traces;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay replay TRACE --engine ... --out DIR`: replays one trace into the model and real allocators
/// and writes DIR/summary.json plus CSV series.
/// Exit codes: <see cref="ExitCodes"/> (0 summary written, even when an engine could not run and has an "error"
/// entry; 3 also when --strict stopped at a bad event; 5 when no engine could run).
/// </summary>
public static class ReplayCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var trace = new Argument<FileInfo>("TRACE") { Description = "The trace to replay (from `ptreplay record`)." };
        var engines = new Option<string>("--engine", "-e")
        {
            Description = "Comma-separated engines: sim (the C# ptmalloc model), glibc, jemalloc, tcmalloc, mimalloc; all: every one (the default).",
            DefaultValueFactory = _ => string.Join(',', ReplayRunner.AllEngines),
        };
        var outDir = new Option<string>("--output", "-o", "--out") { Description = "Output folder (created).", Required = true };
        var threads = new Option<string>("--threads")
        {
            Description = "serial: the recorded global order, deterministic; concurrent: per-thread order only (real contention; " +
                "a cross-thread free still waits for its allocation). The model always replays the global order.",
            DefaultValueFactory = _ => "serial",
        };
        threads.AcceptOnlyFromAmong("serial", "concurrent");
        var touch = new Option<string>("--touch")
        {
            Description = "What the replay writes into each returned block, so RSS reflects a program using its memory: " +
                "none, page (one byte per page), full (every byte). The model uses the same touch model.",
            DefaultValueFactory = _ => "page",
        };
        touch.AcceptOnlyFromAmong("none", "page", "full");
        var tunables = new Option<string?>("--tunables")
        {
            Description = "glibc tunables, e.g. glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0; passed as GLIBC_TUNABLES to glibc and applied to the model. Default: the recorded process's malloc environment.",
        };
        var strict = new Option<bool>("--strict") { Description = "Stop at the first bad event (free of an unknown pointer, double free, truncated or damaged file) instead of skipping it." };
        var sampleEvery = new Option<long>("--sample-every")
        {
            Description = "Sample footprint and RSS every N calls (and at each new live peak). Each native sample reads " +
                "/proc/self/statm (about 2 us); at the default, sampling stays within a few percent of the replay time.",
            DefaultValueFactory = _ => 10_000,
        };
        var nullAllocator = new Option<bool>("--null-allocator") { Description = "Benchmark the harness: native engines call a do-nothing allocator (ns_per_call in summary.json is the harness overhead)." };
        var noTiming = new Option<bool>("--no-timing") { Description = "Benchmark throughput: no engine reads the clock per call (native engines skip the cycle counter, the model skips its clock); latency figures are then empty." };
        var simPreamble = new Option<string>("--sim-preamble")
        {
            HelpName = "auto|none|BYTES",
            Description = "What the model's heap starts with, so sim can be compared with glibc sample by sample. The native " +
                "replayer is not a blank process: on a multi-thread trace it creates replay threads before the first call (as many as were ever alive at once), and " +
                "glibc callocs a TLS DTV for each at the bottom of the main heap (0x120 bytes each here), which shifts every later " +
                "main-heap address and moves glibc's brk growth and trims. " +
                "auto (default): give the model the same bytes as one chunk before the first call, measured in this run's glibc replay " +
                "(glibc then runs before sim) or, without the glibc engine, by a short probe run of the native replayer; nothing on a " +
                "single-thread trace (no threads are created). Use it to compare sim with glibc. " +
                "none: the model replays the recorded program alone (what it would do in a fresh process; its footprint then differs " +
                "from glibc's by the shift at some samples). " +
                "BYTES: that many bytes (decimal or 0x hex; 0 or a chunk size: a multiple of 16, at least 32), e.g. setup_heap_bytes " +
                "of another run minus 0x290. summary.json options.sim_preamble says what was applied and why.",
            DefaultValueFactory = _ => "auto",
        };
        var pace = new Option<string>("--pace")
        {
            HelpName = "max|recorded|FACTOR",
            Description = "How fast the native engines issue the calls. max (default): as fast as possible. recorded: at the pace " +
                "the program made them, so allocators that return memory on a timer (jemalloc decay, tcmalloc background release, " +
                "mimalloc purge delay) behave as in the program; FACTOR: the recorded pace sped up by that factor (2 = twice as fast). " +
                "The replayer sleeps (clock_nanosleep, no busy wait) until each call's recorded time; a call less than 50 us ahead " +
                "of the schedule is not slept for (short gaps are coalesced into a later sleep). Sleeps are left out of the wall time " +
                "and the latency. The model (sim) has no timers and ignores the pace. summary.json says which pace the figures come from.",
            DefaultValueFactory = _ => "max",
        };
        var checkAddresses = new Option<bool>("--check-addresses")
        {
            Description = "The model (sim) compares every address it returns with the one glibc returned in the recording, as " +
                "`verify` does, and prints `sim parity: M/N allocations identical` (and the first divergence). A preamble shifts " +
                "main-heap addresses: with this option --sim-preamble defaults to none.",
        };
        var noWarmUp = new Option<bool>("--no-sim-warm-up")
        {
            Description = "Time the model from a cold start: skip the warm-up the sim engine runs on a scratch model before the timed " +
                "replay, so the first calls' latency includes JIT compilation and type loading. By default the warm-up brings the " +
                "model's code to steady state first (its time is summary.json timing.warmup_ns, outside wall_ns and the latency); " +
                "it never changes the model's addresses, footprint or RSS.",
        };
        var explain = new Option<bool>("--explain")
        {
            Description = "Also write DIR/findings.json, as `ptreplay explain` shows it: where the model's free memory sits at the " +
                "peak and at the end, the live chunks pinning it, and the tunables the model predicts would lower the footprint " +
                "(a few more model replays). The report shows it at the top of the workload.",
        };
        var gcProof = new Option<bool>("--gc-proof")
        {
            Description = "Prove the model's timed replay free of .NET garbage collections: the sim engine runs under an EventPipe " +
                "session on its own process (the runtime's GC events at Informational level and the harness's phase markers), and " +
                "summary.json timing.gc gives collections_in_timed_windows, events_lost and the in-process cross-check " +
                "(proof_holds: no event lost and the runtime's count equal to the in-process one). The proof replays from the whole " +
                "prepared file (not streamed: the streaming preparation runs in this process and could collect while a window is " +
                "open), so scratch disk grows with the trace. Off by default; its cost: README, \"Timing and garbage collection\".",
        };
        var repeat = new Option<int>("--repeat")
        {
            HelpName = "N",
            Description = "Replay each native engine (glibc, jemalloc, tcmalloc, mimalloc) N times, interleaved (glibc, jemalloc, ..., " +
                "glibc, jemalloc, ...), so a slow spell of the machine falls on every engine alike. summary.json keeps every run " +
                "(engines[].runs: index, start_order, wall_ns, memory, latency_ns); an engine's top-level latency and wall time " +
                "are the medians over its runs, its memory figures and CSV files those of run 1. `compare --fail-on` judges a " +
                "latency limit with a Mann-Whitney test over the runs when both sides have at least 5. The model (sim) runs once: " +
                "its memory figures are deterministic and its latency times the C# model, not an allocator.",
            DefaultValueFactory = _ => 1,
        };
        var keep = new Option<bool>("--keep-work") { Description = "Keep DIR/work (the prepared trace and the native results files, with every returned address)." };

        var command = new Command("replay",
            "Replay a trace into the C# ptmalloc model and, through the native replayer, into glibc, jemalloc, tcmalloc and " +
            "mimalloc (preloaded from Debian's libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0; a missing one is reported and skipped). " +
            "Writes DIR/summary.json (per engine: peak/final live bytes, footprint, RSS, fragmentation, Johnstone-Wilson ratios, " +
            "latency p50/p90/p99/p99.9/max per call) and DIR/series-ENGINE.csv, DIR/latency-ENGINE.csv.\n\n" +
            "Examples:\n" +
            "  ptreplay replay py.trace -o out/py\n" +
            "  ptreplay replay mt.trace -o out/mt --engine glibc,jemalloc --threads concurrent\n" +
            "  ptreplay replay py.trace -o out/py-a2 --engine sim,glibc --tunables glibc.malloc.arena_max=2\n" +
            "  ptreplay replay mt.trace -o out/mt-cmp --engine glibc,sim        # sim starts with glibc's thread-setup bytes (auto)\n" +
            "  ptreplay replay mt.trace -o out/mt-alone --engine sim --sim-preamble none   # the model as in a fresh process\n" +
            "  ptreplay replay app.trace -o out/base --engine glibc,jemalloc --repeat 5   # for `compare --fail-on` over runs\n\n" +
            "An engine that could not run carries an \"error\" in summary.json and the run still exits 0, unless no engine " +
            "ran (5). --strict stopping at a bad event exits 3.\n" +
            ExitCodes.Help)
        {
            trace, engines, outDir, threads, touch, tunables, strict, sampleEvery, nullAllocator, noTiming, keep,
            simPreamble, pace, checkAddresses, noWarmUp, explain, gcProof, repeat,
        };

        command.SetAction(CliErrors.Guard("replay", parse =>
        {
            var engineList = (parse.GetValue(engines) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (engineList.Contains("all", StringComparer.Ordinal))
            {
                // "all" stands for every engine, in the usual order; an engine named beside it adds nothing.
                engineList = [.. ReplayRunner.AllEngines];
            }

            var unknown = engineList.Where(e => !ReplayRunner.AllEngines.Contains(e)).ToList();
            if (engineList.Length == 0 || unknown.Count > 0)
            {
                throw CliException.Usage($"--engine: unknown engine(s) '{string.Join(", ", unknown)}'; known: {string.Join(", ", ReplayRunner.AllEngines)}, or all");
            }

            long every = parse.GetValue(sampleEvery);
            if (every < 1)
            {
                throw CliException.Usage("--sample-every must be at least 1");
            }

            bool check = parse.GetValue(checkAddresses);
            string preambleText = parse.GetValue(simPreamble) ?? "auto";
            if (check && parse.GetResult(simPreamble) is null or { Implicit: true })
            {
                preambleText = "none";
            }

            string? preambleError = SimPreambleResolver.TryParse(preambleText, out SimPreambleMode preambleMode, out ulong preambleBytes);
            if (preambleError is not null)
            {
                throw CliException.Usage($"--sim-preamble: {preambleError}");
            }

            string? paceError = ReplayPace.TryParse(parse.GetValue(pace) ?? "max", out ReplayPace replayPace);
            if (paceError is not null)
            {
                throw CliException.Usage($"--pace: {paceError}");
            }

            int repeatCount = parse.GetValue(repeat);
            if (repeatCount < 1)
            {
                throw CliException.Usage("--repeat must be at least 1");
            }

            string? tunableText = parse.GetValue(tunables);
            string? checkedTunables = tunableText is null ? null : MallocTunables.ParseChecked(tunableText).ToGlibcTunables();
            string file = CliPaths.Input(parse.GetValue(trace)!.FullName);
            string dir = CliPaths.OutputDirectory(parse.GetValue(outDir)!);

            using var progress = new ProgressDisplay();
            var options = new ReplayOptions
            {
                Threads = parse.GetValue(threads) == "concurrent" ? ThreadMode.Concurrent : ThreadMode.Serial,
                Touch = parse.GetValue(touch) switch { "none" => TouchMode.None, "full" => TouchMode.Full, _ => TouchMode.Page },
                Tunables = checkedTunables,
                NullAllocator = parse.GetValue(nullAllocator),
                NoTiming = parse.GetValue(noTiming),
                Pace = replayPace,
                LogAddresses = parse.GetValue(keep),
                SimPreamble = preambleMode,
                SimPreambleBytes = preambleBytes,
                CheckAddresses = check,
                SimWarmUp = !parse.GetValue(noWarmUp),
                Explain = parse.GetValue(explain),
                GcProof = parse.GetValue(gcProof),
                Repeat = repeatCount,
                Progress = (engine, fraction) => progress.Fraction(engine, fraction),
                PrepareProgress = n =>
                {
                    progress.SetTotal(n);
                    progress.Count("prepare", n);
                },
            };
            ReplayReport report = ReplayRunner.RunFile(file, engineList, dir, options,
                new PreparationOptions { Strict = parse.GetValue(strict), SampleEvery = every }, parse.GetValue(keep));
            progress.Dispose();
            PrintReport(report, dir);
            return report.Results.Count > 0 && report.Results.All(r => r.Error is not null) ? ExitCodes.CannotRun : ExitCodes.Ok;
        }));
        return command;
    }

    private static void PrintReport(ReplayReport report, string dir)
    {
        PreparedTrace p = report.Prepared;
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"{p.EventCount} events, {p.CallCount} calls, {p.ThreadCount} threads, peak live {p.PeakLiveBytes} B"));
        if (p.IssueCount > 0)
        {
            Console.WriteLine(string.Create(inv, $"{p.IssueCount} bad event(s) skipped, first: {p.Issues[0]}"));
        }

        Console.WriteLine("engine     peak footprint   peak RSS      final frag  malloc p50/p99 ns  free p50/p99 ns");
        foreach (EngineResult r in report.Results)
        {
            if (r.Error is not null)
            {
                Console.WriteLine($"{r.Engine,-10} {(r.Skipped ? "skipped" : "error")}: {r.Error}");
                continue;
            }

            LatencySummary? m = r.Latency?.Summarize((int)EventKind.Malloc);
            LatencySummary? f = r.Latency?.Summarize((int)EventKind.Free);
            double frag = r.Series.Count > 0 ? r.Series[^1].Fragmentation : 0;
            Console.WriteLine(string.Create(inv,
                $"{r.Engine,-10} {r.PeakFootprintBytes,14}   {r.PeakRssBytes,12}  {frag,10:0.000}  {m?.P50 ?? 0,7:0}/{m?.P99 ?? 0,-8:0}  {f?.P50 ?? 0,6:0}/{f?.P99 ?? 0:0}"));
        }

        foreach (EngineResult r in report.Results.Where(r => r.Runs.Count > 1))
        {
            Console.WriteLine(RunsLine(r));
        }

        foreach (EngineResult r in report.Results)
        {
            if (r.Parity is { } parity)
            {
                PrintParity(r.Engine, parity);
            }
        }

        foreach (EngineResult r in report.Results)
        {
            if (r.Gc is { CollectionsInTimedWindows: { } inWindows } gc)
            {
                Console.WriteLine(string.Create(inv,
                    $"{r.Engine} gc proof: {inWindows} collection(s) in {gc.TimedWindows} timed window(s) by the runtime's events ({gc.EventsLost} lost), {gc.CollectionsInTimedWindowsInProcess} in process: {(gc.ProofHolds == true ? "holds" : "does not hold")}"));
            }
        }

        if (report.SimPreamble is { Source: not SimPreambleSource.SimNotRun } preamble)
        {
            Console.WriteLine(preamble.ToString());
        }

        if (report.InheritedHeapNote is { } inherited)
        {
            Console.WriteLine(inherited);
        }

        Console.WriteLine($"wrote {Path.Combine(dir, "summary.json")}");
    }

    /// <summary>
    /// An engine replayed several times: its malloc and free p50/p99 over the runs (median, lowest-highest), and whether its
    /// footprint and RSS were the same in every run.
    /// </summary>
    private static string RunsLine(EngineResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        var parts = new List<string>();
        foreach (string kind in new[] { "malloc", "free" })
        {
            foreach (string p in new[] { "p50", "p99" })
            {
                if (RunStatistics.Values(r.Runs, $"latency.{kind}.{p}") is { Count: > 0 } v)
                {
                    parts.Add(string.Create(inv, $"{kind} {p} {RunStatistics.Median(v):0} ns ({v.Min():0}-{v.Max():0})"));
                }
            }
        }

        var differing = new List<string>();
        foreach (string figure in new[] { "peak_footprint_bytes", "final_footprint_bytes", "peak_rss_bytes", "final_rss_bytes" })
        {
            if (RunStatistics.Values(r.Runs, figure) is { Count: > 0 } v && v.Min() != v.Max())
            {
                differing.Add(string.Create(inv, $"{figure} {v.Min():N0}-{v.Max():N0}"));
            }
        }

        string memory = differing.Count == 0
            ? "; memory figures equal in every run"
            : $"; memory differs between runs (the summary's is run 1's): {string.Join(", ", differing)}";
        return string.Create(inv, $"{r.Engine,-10} {r.Runs.Count} runs, median (lowest-highest): {string.Join(", ", parts)}{memory}");
    }

    /// <summary>The address check's lines, worded as `verify` words them.</summary>
    private static void PrintParity(string engine, AddressParity parity)
    {
        var inv = CultureInfo.InvariantCulture;
        if (parity.Inherited is { } prefix)
        {
            Console.WriteLine(string.Create(inv, $"{engine} inherited heap: {prefix.Events:N0} parent events replayed first, {prefix.Summary}"));
        }

        ParityReport report = parity.Report;
        if (report.First is { } d)
        {
            Console.WriteLine(string.Create(inv, $"{engine} first divergence at event {d.EventIndex}: {d.Event}"));
            Console.WriteLine("  " + d.Reason);
        }

        if (report.Abort is { } a)
        {
            Console.WriteLine(string.Create(inv, $"{engine} glibc would abort at event {a.EventIndex}: {a.Message}"));
        }

        if (report.UnknownPointers > 0)
        {
            Console.WriteLine(string.Create(inv, $"{engine} {report.UnknownPointers} free/realloc of pointers the trace never returned (skipped)"));
        }

        if (report.SkippedEvents > 0)
        {
            Console.WriteLine(string.Create(inv, $"{engine} {report.SkippedEvents} events on a thread after its exit or beyond the thread limit (skipped)"));
        }

        Console.WriteLine($"{engine} {report.Summary}");
    }
}
