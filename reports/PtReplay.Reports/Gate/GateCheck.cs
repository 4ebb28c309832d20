using System.Globalization;
using PtReplay.Results;

namespace PtReplay.Reports.Gate;

/// <summary>
/// Compares measured model figures with the baseline, figure by figure, with exact equality. Each difference is a
/// readable line: "python.trace: peak_footprint_bytes: baseline 5685248, now 5689344 (+4096)".
/// </summary>
public static class GateCheck
{
    /// <summary>The differences of one trace (empty: identical). A trace absent from the baseline is one difference.</summary>
    public static IReadOnlyList<string> Differences(ModelBaseline baseline, string key, IReadOnlyDictionary<string, long> measured)
    {
        var inv = CultureInfo.InvariantCulture;
        if (!baseline.Traces.TryGetValue(key, out IReadOnlyDictionary<string, long>? expected))
        {
            return [$"{key}: not in the baseline (add it with --update)"];
        }

        var diffs = new List<string>();
        foreach (string name in GateFigures.Names)
        {
            bool hasOld = expected.TryGetValue(name, out long old);
            bool hasNew = measured.TryGetValue(name, out long now);
            if (!hasOld)
            {
                diffs.Add(string.Create(inv, $"{key}: {name}: missing from the baseline, now {now}"));
            }
            else if (!hasNew)
            {
                diffs.Add(string.Create(inv, $"{key}: {name}: baseline {old}, not measured"));
            }
            else if (old != now)
            {
                diffs.Add(string.Create(inv, $"{key}: {name}: baseline {old}, now {now} ({now - old:+#;-#;0})"));
            }
        }

        return diffs;
    }
}
