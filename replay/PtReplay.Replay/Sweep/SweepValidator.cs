using System.Globalization;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Native;
using PtReplay.Replay.Sim;
using PtReplay.Results;

namespace PtReplay.Replay.Sweep;

/// <summary>
/// `sweep --validate`: replays a few points of each trace natively under glibc (serial mode, no clock, GLIBC_TUNABLES =
/// the point's tunables) and compares glibc's measured memory figures with the model's prediction
/// (<see cref="SweepCheck.Figures"/>). The points, in this order and at most <see cref="MaxPoints"/> per trace: the default
/// point (no tunables: the recorded malloc environment), the best points of <see cref="SweepBest"/> in its order, then
/// the other points that ran, lowest index first. Runs one glibc replay at a time.
/// A multi-thread trace is not compared: the model matches glibc there only with the sim preamble and a serial replay,
/// while the sweep's model runs have no preamble. Invariants: the choice of points depends only on the results, not on
/// timing; a glibc run that fails is a <see cref="SweepCheckNote"/> with CannotRun set and ends that trace's validation.
/// </summary>
public static class SweepValidator
{
    /// <summary>Points validated per trace, the default point included.</summary>
    public const int MaxPoints = 5;

    /// <summary>The points of trace <paramref name="trace"/> to validate, in order (<see cref="SweepCheck.DefaultPoint"/> first).</summary>
    public static IReadOnlyList<int> ChoosePoints(int trace, IReadOnlyList<SweepPoint> points, IReadOnlyList<SweepBest> best)
    {
        ArgumentNullException.ThrowIfNull(points);
        ArgumentNullException.ThrowIfNull(best);
        var chosen = new List<int> { SweepCheck.DefaultPoint };
        IEnumerable<int> candidates = best.Where(b => b.Trace == trace).Select(b => b.Point)
            .Concat(points.Where(p => p.Trace == trace && p.Memory is not null).Select(p => p.Point).Order());
        foreach (int p in candidates)
        {
            if (chosen.Count == MaxPoints)
            {
                break;
            }

            if (!chosen.Contains(p))
            {
                chosen.Add(p);
            }
        }

        return chosen;
    }

    /// <summary>
    /// Validates every trace of <paramref name="inputs"/> against the model's <paramref name="points"/>; the results and
    /// the notes of what was not compared. <paramref name="workDir"/> receives glibc's results files (the caller deletes it).
    /// </summary>
    public static (IReadOnlyList<SweepCheck> Checks, IReadOnlyList<SweepCheckNote> Notes) Validate(
        SweepRequest request, IReadOnlyList<PreparedInput> inputs, IReadOnlyList<SweepPoint> points, IReadOnlyList<SweepBest> best, string workDir)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(points);
        var checks = new List<SweepCheck>();
        var notes = new List<SweepCheckNote>();
        int planned = Enumerable.Range(0, inputs.Count).Where(t => inputs[t].Prepared.ThreadCount <= 1).Sum(t => ChoosePoints(t, points, best).Count);
        int done = 0;
        for (int t = 0; t < inputs.Count; t++)
        {
            PreparedInput input = inputs[t];
            if (input.Prepared.ThreadCount > 1)
            {
                notes.Add(new SweepCheckNote(t, null,
                    "not validated: " + input.Prepared.ThreadCount.ToString(CultureInfo.InvariantCulture) + " threads; on a multi-thread " +
                    "trace the model is exact only with the sim preamble and a serial replay (`replay --engine sim,glibc`), and the " +
                    "sweep's model runs have no preamble", false));
                continue;
            }

            foreach (int point in ChoosePoints(t, points, best))
            {
                string? tunables = point == SweepCheck.DefaultPoint ? null : request.Grid.Tunables(point);
                MemoryFigures? model = point == SweepCheck.DefaultPoint
                    ? RunModel(request, input, null, notes, t)
                    : points.Single(p => p.Trace == t && p.Point == point).Memory;
                if (model is null)
                {
                    continue;
                }

                ReplayOptions options = request.Options with
                {
                    Tunables = tunables,
                    NoTiming = true,
                    Threads = ThreadMode.Serial,
                    CheckAddresses = false,
                    LogAddresses = false,
                    Progress = null,
                    PrepareProgress = null,
                };
                string resultsPath = Path.Combine(workDir, string.Create(CultureInfo.InvariantCulture, $"glibc-{t}-{point}.results"));
                (EngineResult glibc, _) = NativeEngine.Run("glibc", input.Prepared, options, resultsPath,
                    ReplayRunner.MallocEnvironment(tunables, input.ModelHeader));
                request.ValidationDone?.Invoke(++done, planned);
                if (glibc.Error is not null)
                {
                    notes.Add(new SweepCheckNote(t, point, $"glibc's native replay could not run: {glibc.Error}", true));
                    break;
                }

                foreach (string figure in SweepCheck.Figures)
                {
                    ulong predicted = SweepCheck.FigureOf(model, figure);
                    ulong measured = SweepCheck.FigureOf(glibc.Memory, figure);
                    checks.Add(new SweepCheck(t, point, tunables ?? "", figure, predicted, measured, predicted == measured));
                }
            }
        }

        return (checks, notes);
    }

    private static MemoryFigures? RunModel(SweepRequest request, PreparedInput input, string? tunables, List<SweepCheckNote> notes, int trace)
    {
        EngineResult result = SimEngine.Run(input.Prepared, input.ModelHeader, SweepRunner.ModelOptions(request, tunables), tunables);
        if (result.Error is not null)
        {
            notes.Add(new SweepCheckNote(trace, SweepCheck.DefaultPoint, $"not validated: the model stopped: {result.Error}", false));
            return null;
        }

        return result.Memory;
    }
}
