namespace PtReplay.Replay.Preparation;

/// <summary>How <see cref="TracePreparer"/> treats bad events and where it samples metrics.</summary>
public sealed class PreparationOptions
{
    /// <summary>Stop at the first bad event (throw <see cref="TraceIssueException"/>) instead of skipping it.</summary>
    public bool Strict { get; init; }

    /// <summary>Take a metrics sample after every this many calls (besides the samples at new live peaks). At least 1.</summary>
    public long SampleEvery { get; init; } = 10_000;

    /// <summary>
    /// A sample is also taken when live bytes exceed the live bytes at the previous peak sample by this fraction
    /// (so a growing phase is not sampled at every call); the exact peak always gets a sample.
    /// </summary>
    public double PeakStep { get; init; } = 1.0 / 32;

    /// <summary>
    /// Replay each thread exit just after that thread's last event, where glibc ran it, instead of where the
    /// recorder wrote the marker (often after other threads' calls); see
    /// <see cref="ThreadExitPlacement"/>. Issues still cite recorded event indices.
    /// </summary>
    public bool PlaceThreadExitsAtLastEvent { get; init; } = true;

    /// <summary>
    /// Write each op's recorded time (ns after the first op) beside the ops, for a native replay at the recorded pace
    /// (<see cref="ReplayOptions.Pace"/>); 8 bytes per op.
    /// </summary>
    public bool RecordedTimes { get; init; }

    /// <summary>
    /// Write the address each recorded call returned beside the ops, for the sim engine's address check
    /// (<see cref="ReplayOptions.CheckAddresses"/>); 8 bytes per op.
    /// </summary>
    public bool RecordedAddresses { get; init; }

    /// <summary>Issues kept in <see cref="PreparedTrace.Issues"/>; further ones are only counted.</summary>
    public int MaxIssuesKept { get; init; } = 1000;

    /// <summary>These options with <see cref="RecordedTimes"/> set.</summary>
    public PreparationOptions WithRecordedTimes() => WithTables(times: true, addresses: RecordedAddresses);

    /// <summary>These options with <see cref="RecordedTimes"/> and <see cref="RecordedAddresses"/> set as given (or kept when already set).</summary>
    public PreparationOptions WithTables(bool times, bool addresses) => new()
    {
        Strict = Strict,
        SampleEvery = SampleEvery,
        PeakStep = PeakStep,
        PlaceThreadExitsAtLastEvent = PlaceThreadExitsAtLastEvent,
        MaxIssuesKept = MaxIssuesKept,
        RecordedTimes = RecordedTimes || times,
        RecordedAddresses = RecordedAddresses || addresses,
    };
}
