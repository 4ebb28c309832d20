using PtReplay.Reports.Input;

namespace PtReplay.Reports.Html;

/// <summary>
/// The HTML id of each workload's section. Invariant: ids are unique within a report (a name that repeats, or two names
/// that differ only in characters an id cannot hold, get "-2", "-3", ... in input order) and stable for the same inputs.
/// </summary>
public sealed class WorkloadAnchors
{
    private readonly Dictionary<ReplayOutput, string> _ids = new(ReferenceEqualityComparer.Instance);

    /// <summary>Assigns an id to every output, in order.</summary>
    public WorkloadAnchors(IEnumerable<ReplayOutput> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (ReplayOutput o in outputs)
        {
            string stem = "w-" + string.Concat(o.Name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-'));
            string id = stem;
            for (int n = 2; !used.Add(id); n++)
            {
                id = $"{stem}-{n}";
            }

            _ids[o] = id;
        }
    }

    /// <summary>The id of <paramref name="output"/>'s section.</summary>
    public string this[ReplayOutput output] => _ids[output];
}
