using PtReplay.Allocator;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Native;
using PtReplay.Replay.Output;
using PtReplay.Replay.Parity;
using PtReplay.Replay.Findings;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Results;
using PtReplay.Results.Findings;
using System.Globalization;
using PtReplay.Traces;
using PtReplay.Traces.ProcessTrees;

namespace PtReplay.Replay;

/// <summary>What one replay produced: the prepared trace, each engine's result, and where the files are.</summary>
/// <param name="Prepared">The prepared trace (its file is deleted unless intermediates are kept).</param>
/// <param name="Results">One result per requested engine, in request order.</param>
/// <param name="NativeResultsPaths">Results file of each native engine that ran (kept only with intermediates).</param>
public sealed record ReplayReport(PreparedTrace Prepared, IReadOnlyList<EngineResult> Results, IReadOnlyDictionary<string, string> NativeResultsPaths)
{
    /// <summary>The preamble the sim engine replayed with and why (null when the runner did not decide one).</summary>
    public SimPreambleDecision? SimPreamble { get; init; }

    /// <summary>
    /// Streamed replay: the most disk the prepared file held during any engine's run (bytes, measured by its writer);
    /// 0 when the file was written whole.
    /// </summary>
    public long StreamedFileHighWater { get; init; }

    /// <summary>
    /// For a forked child: where its replay started ("from its parent's heap at the fork: ..." or why it
    /// started from an empty heap); null for any other trace.
    /// </summary>
    public string? InheritedHeapNote { get; init; }
}

/// <summary>A trace prepared once (<see cref="ReplayRunner.PrepareFile"/>) for many model runs.</summary>
/// <param name="TracePath">The trace file.</param>
/// <param name="Prepared">The prepared trace; its file lives until the caller deletes the work folder.</param>
/// <param name="ModelHeader">The header that sets up the model (for a forked child: its oldest ancestor's).</param>
/// <param name="TraceHeader">The trace's own header (pid, command line).</param>
public sealed record PreparedInput(string TracePath, PreparedTrace Prepared, TraceHeader ModelHeader, TraceHeader TraceHeader);

/// <summary>
/// Runs one trace through a list of engines and writes DIR/summary.json plus CSV series:
/// prepare once (<see cref="TracePreparer"/>), then each engine on the same prepared file. With
/// <see cref="ReplayOptions.Repeat"/> N &gt; 1 the native engines run N rounds, interleaved (round k runs every native
/// engine once, before round k + 1 starts); each result keeps its runs (<see cref="EngineResult.Runs"/>), the rest of it
/// and the CSV files are run 1's. An engine failing in a later run becomes a failed engine naming the run.
/// </summary>
public static class ReplayRunner
{
    /// <summary>Every engine name, in report order.</summary>
    public static IReadOnlyList<string> AllEngines { get; } = ["sim", "glibc", "jemalloc", "tcmalloc", "mimalloc"];

    /// <summary>
    /// Replays the trace file at <paramref name="tracePath"/> (see <see cref="Run(string, TraceHeader, IEnumerable{AllocEvent}, IReadOnlyList{string}, string, ReplayOptions, PreparationOptions, bool, IEnumerable{TraceIssue})"/>);
    /// a truncated or damaged file is a <see cref="TraceIssue"/> under the same policy as bad events.
    /// Throws <see cref="TraceCorruptException"/> when the header is unreadable.
    /// </summary>
    public static ReplayReport RunFile(
        string tracePath, IReadOnlyList<string> engines, string outDir, ReplayOptions options, PreparationOptions preparation,
        bool keepIntermediates = false)
    {
        using var input = TraceInput.Open(tracePath);
        InheritedHeap? inherited = InheritedHeap.Find(tracePath, input.Header, out string? missing);
        string? note = missing is null ? null : $"a fork child, but {missing}: replayed from an empty heap";
        if (inherited is not null)
        {
            note = string.Create(CultureInfo.InvariantCulture,
                $"a fork child, replayed from its parent's heap at the fork: {Path.GetFileName(inherited.Parent.ParentPath)} " +
                $"up to its event {inherited.Parent.ParentEvents:N0} ({inherited.PrefixEvents:N0} events replayed before the child's, not measured)");
        }

        ReplayReport report = Run(tracePath, inherited?.OldestHeader ?? input.Header, input.Events(), engines, outDir, options, preparation,
            keepIntermediates, LazyIssues(input), inherited, input.Header, () => EventsOf(tracePath));
        foreach (EngineResult result in report.Results)
        {
            if (result.Parity is { } parity)
            {
                TraceVerifier.NameFirstDivergence(parity, index => TraceVerifier.EventAt(tracePath, index));
            }
        }

        return report with { InheritedHeapNote = note };
    }

    /// <summary>The events of the trace file at <paramref name="tracePath"/>, read again from its start.</summary>
    private static IEnumerable<AllocEvent> EventsOf(string tracePath)
    {
        using var input = TraceInput.Open(tracePath);
        foreach (AllocEvent e in input.Events())
        {
            yield return e;
        }
    }

    private static IEnumerable<TraceIssue> LazyIssues(TraceInput input)
    {
        foreach (TraceIssue issue in input.Issues)
        {
            yield return issue;
        }
    }

    /// <summary>
    /// <paramref name="header"/> sets up the model and the malloc environment (for a forked child: its oldest ancestor's,
    /// whose start its heap comes from); <paramref name="traceHeader"/>, when given, is the replayed trace's own (summary's pid,
    /// parent pid, command line). <paramref name="inherited"/> puts a forked child's inherited heap first (<see cref="InheritedReplay"/>).
    /// Replays <paramref name="events"/> (global order) recorded under <paramref name="header"/> into
    /// <paramref name="engines"/>, writing into <paramref name="outDir"/>. Throws <see cref="TraceIssueException"/>
    /// under the strict policy; engine failures become results with an error.
    /// <para>
    /// Streamed replay: when <paramref name="reopen"/> gives the same events again from their start, and
    /// <see cref="ReplayOptions.StreamWindow"/> is not 0, no inherited heap, findings, kept intermediates or GC proof are asked for,
    /// a first pass over <paramref name="events"/> learns the figures and the tables' layout (O(live set + threads)
    /// memory, nothing written), then each engine run replays a prepared file that a second pass writes while the
    /// engine reads it, at most the window ahead (<see cref="PreparedStream"/>): the file's disk use is bounded by the
    /// window, not the trace's length. The ops, and so every figure of the replay, are the same as with the whole file.
    /// </para>
    /// </summary>
    public static ReplayReport Run(
        string tracePath, TraceHeader header, IEnumerable<AllocEvent> events, IReadOnlyList<string> engines, string outDir,
        ReplayOptions options, PreparationOptions preparation, bool keepIntermediates = false,
        IEnumerable<TraceIssue>? extraIssues = null, InheritedHeap? inherited = null, TraceHeader? traceHeader = null,
        Func<IEnumerable<AllocEvent>>? reopen = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Directory.CreateDirectory(outDir);
        string work = Path.Combine(outDir, "work");
        Directory.CreateDirectory(work);
        string preparedPath = Path.Combine(work, "trace.prepared");

        // Not under --gc-proof: the second preparation pass runs in this process and could collect garbage while the model's
        // windows are open, so the proof replays from the whole prepared file.
        bool streamed = reopen is not null && options.StreamWindow > 0 && inherited is null && !options.Explain && !keepIntermediates && !options.GcProof;
        PreparationOptions tables = Tables(options, preparation);
        PreparedTrace prepared = Prepare(preparedPath, events, options, preparation, extraIssues, inherited, plan: streamed);
        long highWater = 0;

        IReadOnlyDictionary<string, string> mallocEnv = MallocEnvironment(options.Tunables, header);
        string tunables = string.Join(' ', mallocEnv.Select(kv => kv.Key + "=" + kv.Value));
        var results = new EngineResult[engines.Count];
        var nativePaths = new Dictionary<string, string>(StringComparer.Ordinal);
        NativeResults? glibcRun = null;
        SimPreambleDecision preamble = SimPreambleResolver.NotRun(options.SimPreamble);
        int repeat = Math.Max(1, options.Repeat);
        var runs = new List<EngineRun>[engines.Count];
        int started = 0;
        List<int> firstRound = ExecutionOrder(engines, SimPreambleResolver.WantsGlibcFirst(options, engines, prepared));
        for (int round = 1; round <= repeat; round++)
        {
            // Round 1 runs every engine; later rounds only the native engines still running, in request order.
            foreach (int i in round == 1 ? firstRound : Enumerable.Range(0, engines.Count))
            {
                string engine = engines[i];
                bool repeated = repeat > 1 && AllocatorLibraries.IsNative(engine);
                if (round > 1 && (!repeated || results[i].Error is not null))
                {
                    continue;
                }

                string label = repeated ? string.Create(CultureInfo.InvariantCulture, $"{engine} run {round}/{repeat}") : engine;
                ReplayOptions runOptions = !repeated || options.Progress is not { } progress
                    ? options
                    : options with { Progress = (_, fraction) => progress(label, fraction) };
                EngineResult result;
                PreparedStream? stream = streamed && (engine == "sim" || AllocatorLibraries.IsNative(engine))
                    ? PreparedStream.Start(prepared, tables, options.StreamWindow, reopen!)
                    : null;
                try
                {
                    if (engine == "sim")
                    {
                        preamble = options.SimPreamble == SimPreambleMode.Auto
                            ? SimPreambleResolver.Auto(prepared.SetupThreads + 1, glibcRun, options, mallocEnv, work)
                            : SimPreambleResolver.Explicit(options.SimPreambleBytes);
                        result = RunSim(prepared, header, options with { SimPreambleBytes = preamble.Bytes });
                    }
                    else if (AllocatorLibraries.IsNative(engine))
                    {
                        string resultsPath = Path.Combine(work, round == 1 ? $"{engine}.results" : $"{engine}.run{round}.results");
                        (result, NativeResults? raw) = NativeEngine.Run(engine, prepared, runOptions, resultsPath, engine == "glibc" ? mallocEnv : null);
                        if (engine == "glibc")
                        {
                            glibcRun ??= raw;
                        }

                        if (keepIntermediates && round == 1 && File.Exists(resultsPath))
                        {
                            nativePaths[engine] = resultsPath;
                        }
                    }
                    else
                    {
                        result = EngineResult.Failed(engine, $"unknown engine '{engine}' (known: {string.Join(", ", AllEngines)})");
                    }

                    if (stream?.Finish() is { } streamError)
                    {
                        result = EngineResult.Failed(engine, streamError);
                    }

                    highWater = Math.Max(highWater, stream?.AllocatedHighWater ?? 0);
                }
                finally
                {
                    stream?.Dispose();
                }

                runOptions.Progress?.Invoke(engine, 1.0);   // the run is done: its progress ends at 100 %, failed or not
                int order = started++;
                if (round == 1)
                {
                    results[i] = result;
                    SeriesCsvWriter.Write(outDir, result);   // the series and latency CSVs are run 1's
                }
                else if (result.Error is not null)
                {
                    results[i] = EngineResult.Failed(engine, string.Create(CultureInfo.InvariantCulture, $"run {round} of {repeat} failed: {result.Error}"));
                    continue;
                }

                if (repeated && result.Error is null)
                {
                    (runs[i] ??= []).Add(SummaryWriter.Run(result, round, order));
                }
            }
        }

        for (int i = 0; i < engines.Count; i++)
        {
            if (runs[i] is { Count: > 1 } engineRuns && results[i].Error is null)
            {
                results[i] = results[i] with { Runs = engineRuns };
            }
        }

        LiveBySizeWriter.Write(LiveBySizeCsv.PathIn(outDir), prepared);
        SummaryWriter.Write(Path.Combine(outDir, SummaryFile.FileName), tracePath, prepared, options, preparation.SampleEvery, tunables, results, preamble, traceHeader ?? header);
        if (options.Explain)
        {
            WriteFindings(Path.Combine(outDir, HeapFindingsJson.FileName), new PreparedInput(tracePath, prepared, header, traceHeader ?? header),
                options with { SimPreambleBytes = preamble.Bytes });
        }

        if (!keepIntermediates)
        {
            Directory.Delete(work, recursive: true);
        }

        return new ReplayReport(prepared, results, nativePaths) { SimPreamble = preamble, StreamedFileHighWater = highWater };
    }

    /// <summary>
    /// Writes findings.json for the prepared trace (the model's view, with the run's tunables); a model abort leaves no file
    /// (the sim engine's result already reports it).
    /// </summary>
    private static void WriteFindings(string path, PreparedInput input, ReplayOptions options)
    {
        try
        {
            HeapFindingsFile findings = HeapFindingsBuilder.Build(input, options, options.Tunables, new FindingsRequest());
            File.WriteAllText(path, HeapFindingsJson.Serialize(findings) + "\n");
        }
        catch (MallocAbortException)
        {
            // Nothing to explain: the model stopped where glibc would abort.
        }
    }

    /// <summary>
    /// Prepares the trace file at <paramref name="tracePath"/> into <paramref name="workDir"/>/trace.prepared once, for
    /// many model runs over it (a sweep): the same preparation as <see cref="RunFile"/> (a forked child gets its inherited
    /// heap first). The caller deletes <paramref name="workDir"/> when done.
    /// Throws <see cref="TraceCorruptException"/> when the header is unreadable, <see cref="TraceIssueException"/> under the strict policy.
    /// </summary>
    public static PreparedInput PrepareFile(string tracePath, string workDir, ReplayOptions options, PreparationOptions preparation)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var input = TraceInput.Open(tracePath);
        InheritedHeap? inherited = InheritedHeap.Find(tracePath, input.Header, out _);
        Directory.CreateDirectory(workDir);
        PreparedTrace prepared = Prepare(Path.Combine(workDir, "trace.prepared"), input.Events(), options, preparation, LazyIssues(input), inherited);
        return new PreparedInput(tracePath, prepared, inherited?.OldestHeader ?? input.Header, input.Header);
    }

    /// <summary>Prepares <paramref name="events"/> into <paramref name="preparedPath"/>, reporting progress every million events.</summary>
    /// <summary>A paced replay needs each op's recorded time beside the ops, the address check each op's recorded address.</summary>
    private static PreparationOptions Tables(ReplayOptions options, PreparationOptions preparation) =>
        options.Pace.IsPaced || options.CheckAddresses ? preparation.WithTables(options.Pace.IsPaced, options.CheckAddresses) : preparation;

    /// <summary>With <paramref name="plan"/>: a planning pass only (nothing written; the trace's layout for a streamed replay).</summary>
    private static PreparedTrace Prepare(string preparedPath, IEnumerable<AllocEvent> events, ReplayOptions options,
        PreparationOptions preparation, IEnumerable<TraceIssue>? extraIssues, InheritedHeap? inherited, bool plan = false)
    {
        PreparedTrace prepared;
        PreparationOptions tables = Tables(options, preparation);
        using (var preparer = plan ? TracePreparer.Plan(tables, preparedPath) : new TracePreparer(preparedPath, tables))
        {
            if (inherited is not null)
            {
                InheritedReplay.AddPrefix(preparer, inherited);
            }

            long next = 1_000_000;
            foreach (var (e, index) in preparer.InReplayOrder(events))
            {
                preparer.Add(in e, index);
                if (preparer.EventCount >= next)
                {
                    options.PrepareProgress?.Invoke(preparer.EventCount);
                    next += 1_000_000;
                }
            }

            foreach (TraceIssue issue in extraIssues ?? [])
            {
                preparer.ReportIssue(issue);
            }

            prepared = preparer.Finish();
        }

        options.PrepareProgress?.Invoke(prepared.EventCount);   // the final count: the preparation is done
        return prepared;
    }

    /// <summary>
    /// Indices of <paramref name="engines"/> in the order they run: as requested, except that with
    /// <paramref name="glibcBeforeSim"/> the first glibc moves just before the first sim (auto preamble).
    /// Results stay in request order.
    /// </summary>
    private static List<int> ExecutionOrder(IReadOnlyList<string> engines, bool glibcBeforeSim)
    {
        var order = Enumerable.Range(0, engines.Count).ToList();
        int sim = order.FindIndex(i => engines[i] == "sim");
        int glibc = order.FindIndex(i => engines[i] == "glibc");
        if (glibcBeforeSim && sim >= 0 && glibc > sim)
        {
            order.RemoveAt(glibc);
            order.Insert(sim, glibc);
        }

        return order;
    }

    /// <summary>
    /// The malloc environment of the glibc run (and, by the same settings, of the model): GLIBC_TUNABLES
    /// = <paramref name="tunables"/> when given, otherwise the recorded process's GLIBC_TUNABLES and MALLOC_* variables.
    /// </summary>
    public static IReadOnlyDictionary<string, string> MallocEnvironment(string? tunables, TraceHeader header)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (tunables is not null)
        {
            env["GLIBC_TUNABLES"] = tunables;
            return env;
        }

        foreach (string entry in header.MallocEnvironment)
        {
            int eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                env[entry[..eq]] = entry[(eq + 1)..];
            }
        }

        return env;
    }

    private static EngineResult RunSim(PreparedTrace prepared, TraceHeader header, ReplayOptions options)
    {
        return Sim.SimEngine.Run(prepared, header, options, options.Tunables);
    }
}
