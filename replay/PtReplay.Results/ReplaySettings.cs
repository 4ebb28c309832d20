using System.Globalization;

namespace PtReplay.Results;

/// <summary>The options section of summary.json: how the replay ran.</summary>
public sealed record ReplaySettings
{
    /// <summary>"serial" or "concurrent".</summary>
    public string Threads { get; init; } = "serial";

    /// <summary>"none", "page" or "full".</summary>
    public string Touch { get; init; } = "page";

    /// <summary>The malloc environment of glibc and the model ("NAME=value ..."), empty when none.</summary>
    public string Tunables { get; init; } = "";

    /// <summary>A sample every this many ops (and at new live peaks).</summary>
    public long SampleEvery { get; init; }

    /// <summary>"max" (as fast as possible), "recorded", or a factor of the recorded pace.</summary>
    public string Pace { get; init; } = "max";

    /// <summary>The chunk the model allocated before the first op, and why (null when the model did not run).</summary>
    public SimPreambleSummary? SimPreamble { get; init; }

    /// <summary>Each setting as the report shows it, in file order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Describe()
    {
        var list = new List<KeyValuePair<string, string>>
        {
            new("threads", Threads),
            new("touch", Touch),
            new("tunables", Tunables),
            new("sample_every", SampleEvery.ToString(CultureInfo.InvariantCulture)),
            new("pace", Pace),
        };
        if (SimPreamble is { } p)
        {
            list.Add(new("sim_preamble", string.Create(CultureInfo.InvariantCulture, $"{p.Bytes} B ({p.Mode}, {p.Source})")));
        }

        return list;
    }
}

/// <summary>
/// The chunk the model allocated on thread 0 before the first op (0 = none) and why:
/// mode "auto" | "none" | "bytes"; source "glibc_run" | "probe" | "single_thread" | "explicit" | "none" | "unavailable" | "sim_not_run".
/// </summary>
/// <param name="Mode">How it was asked for.</param>
/// <param name="Bytes">Chunk size in bytes.</param>
/// <param name="Source">Where the size came from.</param>
/// <param name="SetupHeapBytes">The native replayer's own heap use, when measured.</param>
/// <param name="Reason">The decision in words.</param>
public sealed record SimPreambleSummary(string Mode, ulong Bytes, string Source, ulong? SetupHeapBytes, string Reason);
