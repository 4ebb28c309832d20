using System.Globalization;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Output;
using PtReplay.Replay.Preparation;
using PtReplay.Replay.Sim;
using PtReplay.Results;

namespace PtReplay.Replay.Sweep;

/// <summary>What a sweep runs and where it writes.</summary>
public sealed record SweepRequest
{
    /// <summary>The traces, each prepared once.</summary>
    public required IReadOnlyList<string> Traces { get; init; }

    /// <summary>The tunables grid.</summary>
    public required SweepGrid Grid { get; init; }

    /// <summary>Run only this share of the grid (null: every point).</summary>
    public SweepShard? Shard { get; init; }

    /// <summary>Model runs at once (at least 1).</summary>
    public int Parallel { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Options of every model run; the runner sets <see cref="ReplayOptions.Tunables"/> per point and always replays without
    /// a clock (<see cref="ReplayOptions.NoTiming"/>) and without a preamble (the recorded program alone).
    /// </summary>
    public ReplayOptions Options { get; init; } = new();

    /// <summary>How the traces are prepared (sampling, strict policy).</summary>
    public PreparationOptions Preparation { get; init; } = new();

    /// <summary>Folder for sweep.json's per-point summaries (created); null: nothing is written.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Progress of each trace's preparation: (trace path, events read so far); the last call per trace has its total.</summary>
    public Action<string, long>? PrepareProgress { get; init; }

    /// <summary>Called after each model run with (runs done, runs in all); from any thread.</summary>
    public Action<int, int>? PointDone { get; init; }

    /// <summary>After the grid, compare a few points with glibc's serial native replay (<see cref="SweepValidator"/>).</summary>
    public bool Validate { get; init; }

    /// <summary>Called after each glibc replay of the validation with (replays done, replays planned); the plan can shrink when glibc cannot run.</summary>
    public Action<int, int>? ValidationDone { get; init; }
}

/// <summary>
/// Runs the C# ptmalloc model (<see cref="SimEngine"/>) over every point of a tunables grid for every trace: each trace is
/// prepared once (<see cref="ReplayRunner.PrepareFile"/>), then the (trace, point) runs go through a parallel loop of
/// <see cref="SweepRequest.Parallel"/> workers. The model is deterministic and each run has its own model and its own view
/// of the prepared file, so the figures do not depend on the degree of parallelism or the order the runs finish in.
/// With an output folder each run's summary.json goes to DIR/TT-NAME/PPP/summary.json (trace index and file name, point index).
/// </summary>
public static class SweepRunner
{
    /// <summary>Runs the sweep; the results hold the points in (trace, point) order and the best point per trace and figure.</summary>
    public static SweepResults Run(SweepRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Parallel, 1);
        string work = request.OutputDirectory is { } outDir
            ? Path.Combine(outDir, "work")
            : Path.Combine(Path.GetTempPath(), "ptreplay-sweep-" + Guid.NewGuid().ToString("N"));
        try
        {
            var inputs = new List<PreparedInput>();
            for (int t = 0; t < request.Traces.Count; t++)
            {
                string trace = request.Traces[t];
                ReplayOptions options = request.PrepareProgress is { } report
                    ? request.Options with { PrepareProgress = n => report(trace, n) }
                    : request.Options;
                inputs.Add(ReplayRunner.PrepareFile(trace, Path.Combine(work, t.ToString(CultureInfo.InvariantCulture)), options, request.Preparation));
            }

            int[] points = [.. Enumerable.Range(0, request.Grid.Count).Where(p => request.Shard is not { } s || p % s.N == s.K - 1)];
            var runs = (from t in Enumerable.Range(0, inputs.Count) from p in points select (Trace: t, Point: p)).ToArray();
            var results = new SweepPoint[runs.Length];
            int done = 0;
            System.Threading.Tasks.Parallel.For(0, runs.Length, new ParallelOptions { MaxDegreeOfParallelism = request.Parallel }, i =>
            {
                results[i] = RunPoint(request, inputs[runs[i].Trace], runs[i].Trace, runs[i].Point);
                request.PointDone?.Invoke(Interlocked.Increment(ref done), runs.Length);
            });

            IReadOnlyList<SweepBest> best = SweepBest.Of(results);
            (IReadOnlyList<SweepCheck> Checks, IReadOnlyList<SweepCheckNote> Notes)? validation = request.Validate
                ? SweepValidator.Validate(request, inputs, results, best, work)
                : null;
            return new SweepResults
            {
                Axes = request.Grid.Axes,
                PointCount = request.Grid.Count,
                Shard = request.Shard,
                Traces = [.. inputs.Select(i => new SweepTrace(i.TracePath, i.Prepared.EventCount, i.Prepared.CallCount, i.Prepared.PeakLiveBytes))],
                Points = results,
                Best = best,
                Validation = validation?.Checks,
                ValidationNotes = validation?.Notes,
            };
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    /// <summary>The folder of a run's summary.json, relative to the sweep's output folder.</summary>
    public static string PointFolder(string tracePath, int trace, int point)
    {
        ArgumentNullException.ThrowIfNull(tracePath);
        return Path.Combine(
            string.Create(CultureInfo.InvariantCulture, $"{trace:00}-{Path.GetFileNameWithoutExtension(tracePath)}"),
            point.ToString("000", CultureInfo.InvariantCulture));
    }

    /// <summary>The options of a model run of the sweep under <paramref name="tunables"/>: no clock, no preamble, no address check.</summary>
    public static ReplayOptions ModelOptions(SweepRequest request, string? tunables)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Options with
        {
            Tunables = tunables,
            NoTiming = true,
            SimPreamble = SimPreambleMode.Explicit,
            SimPreambleBytes = 0,
            CheckAddresses = false,
            Progress = null,
            PrepareProgress = null,
        };
    }

    private static SweepPoint RunPoint(SweepRequest request, PreparedInput input, int trace, int point)
    {
        string tunables = request.Grid.Tunables(point);
        ReplayOptions options = ModelOptions(request, tunables);
        EngineResult result = SimEngine.Run(input.Prepared, input.ModelHeader, options, tunables);
        string? summary = null;
        if (request.OutputDirectory is { } outDir)
        {
            summary = Path.Combine(PointFolder(input.TracePath, trace, point), SummaryFile.FileName);
            string path = Path.Combine(outDir, summary);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string environment = string.Join(' ', ReplayRunner.MallocEnvironment(tunables, input.ModelHeader).Select(kv => kv.Key + "=" + kv.Value));
            SummaryWriter.Write(path, input.TracePath, input.Prepared, options, request.Preparation.SampleEvery, environment,
                [result], SimPreambleResolver.Explicit(0), input.TraceHeader);
        }

        return new SweepPoint
        {
            Trace = trace,
            Point = point,
            Tunables = tunables,
            Summary = summary,
            Error = result.Error,
            Memory = result.Error is null ? result.Memory : null,
        };
    }
}
