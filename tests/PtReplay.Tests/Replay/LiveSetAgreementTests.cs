using PtReplay.Replay.Preparation;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;

namespace PtReplay.Tests.Replay;

/// <summary>
/// `ptreplay info` (<see cref="TraceStatistics"/>) and the replay's preparation (<see cref="TracePreparer"/>) keep the
/// books of one live set: on real recordings, made faulty on purpose, they report the same peak and final live bytes
/// and the same anomalies.
/// </summary>
[Collection(RecordingsGroup.Name)]
public sealed class LiveSetAgreementTests(Recordings recordings)
{
    public static TheoryData<string> Programs => ["python", "sqlite", "mt"];

    [Theory]
    [MemberData(nameof(Programs))]
    public void StatisticsAndPreparation_AgreeOnLiveBytesAndAnomalies(string program)
    {
        string trace = program switch { "python" => recordings.Python, "sqlite" => recordings.Sqlite, _ => recordings.MultiThread };
        List<AllocEvent> events;
        using (TraceReader reader = TraceReader.Open(trace))
        {
            events = WithFaults(reader.ReadAll());
        }

        var stats = new TraceStatistics();
        stats.Add(events.ToArray());
        PreparedTrace prepared = TracePreparer.Prepare(events, Path.Combine(recordings.NewFolder($"agree-{program}"), "t.prepared"),
            new PreparationOptions { MaxIssuesKept = int.MaxValue });

        long Issues(TraceIssueKind kind) => prepared.Issues.Count(i => i.Kind == kind);
        Assert.True(stats.AnomalyCount(TraceAnomalyKind.DoubleFree) > 0, "the faults must include double frees");
        Assert.True(stats.AnomalyCount(TraceAnomalyKind.AllocationOfLiveAddress) > 0, "the faults must include missed frees");
        Assert.Equal(stats.PeakLiveBytes, prepared.PeakLiveBytes);
        Assert.Equal(stats.LiveBytes, prepared.FinalLiveBytes);
        Assert.Equal(stats.AnomalyCount(TraceAnomalyKind.DoubleFree), Issues(TraceIssueKind.DoubleFree));
        Assert.Equal(stats.AnomalyCount(TraceAnomalyKind.FreeOfUnknownPointer) + stats.AnomalyCount(TraceAnomalyKind.ReallocOfUnknownPointer),
            Issues(TraceIssueKind.UnknownPointer));
        Assert.Equal(stats.AnomalyCount(TraceAnomalyKind.AllocationOfLiveAddress), Issues(TraceIssueKind.AddressStillLive));
        Assert.Equal(prepared.Issues.Count, prepared.IssueCount);
    }

    /// <summary>
    /// The recorded events with faults a broken recording shows: every 50th free repeated (a double free), every
    /// 97th free dropped (its address comes back still live, or the block leaks), every 151st followed by a failed
    /// realloc of the freed block, and every 200th call followed by a free of an address no allocation returned.
    /// </summary>
    private static List<AllocEvent> WithFaults(IEnumerable<AllocEvent> recorded)
    {
        var output = new List<AllocEvent>();
        long frees = 0, calls = 0;
        foreach (AllocEvent e in recorded)
        {
            bool isFree = e.Kind == EventKind.Free && e.Ptr != 0;
            if (isFree && ++frees % 97 == 0)
            {
                continue;
            }

            output.Add(e);
            if (isFree && frees % 50 == 0)
            {
                output.Add(e);
            }
            else if (isFree && frees % 151 == 0)
            {
                // realloc of the freed block, failing (ENOMEM): a double free on both sides.
                output.Add(new AllocEvent { Kind = EventKind.Realloc, Thread = e.Thread, Timestamp = e.Timestamp, Ptr = e.Ptr, Size = 1UL << 60, Count = 1, Status = 12 });
            }

            if (e.Kind.IsCall() && ++calls % 200 == 0)
            {
                output.Add(new AllocEvent { Kind = EventKind.Free, Thread = e.Thread, Timestamp = e.Timestamp, Ptr = 0x7ead_0000_0010 + ((ulong)calls << 4) });
            }
        }

        return output;
    }
}
