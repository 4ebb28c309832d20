using PtReplay.Replay.Parity;
using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Tests.Traces.Recording;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;

namespace PtReplay.Tests.Traces;

/// <summary>
/// A raw multi-thread recording cut at an arbitrary byte (a killed program, a copy cut short) reads as a prefix
/// in time: each thread flushes its own buffer, so one thread's tail may be missing while the others go on. The
/// reader names the threads without an end, delivers every thread whole up to where the first of them ends, and
/// after that only for as long as no event refers to a missing one: nothing delivered frees a block whose
/// allocation is missing.
/// </summary>
public class TruncatedRecordingTests
{
    [Fact]
    public void ARawMultiThreadTraceCutAnywhere_ReadsAsAPrefixWithoutUnknownPointers()
    {
        using var dir = new TempDir();
        RecordingRuns.Workload w = RecordingRuns.Get("mt");
        var recorded = RecordingRuns.Run(w with { Command = [w.Command[0], "4", "40000"] }, dir.File("mt.trace"), dir.Path);
        Assert.Equal(0, recorded.ExitCode);
        byte[] whole = File.ReadAllBytes(recorded.TracePath);
        long wholeEvents;
        using (TraceReader full = TraceReader.Open(recorded.TracePath))
        {
            Assert.True(full.IsMerged);
            Assert.Equal(-1, full.PrefixEndTimestamp); // a complete recording is read whole
            wholeEvents = full.ReadAll().LongCount();
        }

        int cuts = 0;
        foreach (double at in new[] { 0.23, 0.41, 0.57, 0.71, 0.89 })
        {
            int length = (int)(whole.Length * at) + 7; // anywhere, most likely inside a block
            string cut = dir.File($"cut-{length}.trace");
            File.WriteAllBytes(cut, whole.AsSpan(0, length).ToArray());

            using TraceReader reader = TraceReader.Open(cut);
            Assert.True(reader.IsTruncated);
            Assert.True(reader.PrefixEndTimestamp >= 0);
            Assert.NotEmpty(reader.ThreadsWithoutEnd);
            List<AllocEvent> events = reader.ReadAll().ToList();
            Assert.NotEmpty(events);
            Assert.True(events.Count < wholeEvents);
            if (!reader.IsLifecycleOrdered)
            {
                Assert.All(events, e => Assert.True(reader.StoppedAtTimestamp < 0 || e.Timestamp <= reader.StoppedAtTimestamp));
            }

            Assert.Contains(events, e => e.Timestamp > reader.PrefixEndTimestamp); // not only the strict prefix

            using TraceReader again = TraceReader.Open(cut);
            TraceStatistics stats = TraceStatistics.Compute(again);
            Assert.Equal(0, stats.AnomalyCount(TraceAnomalyKind.FreeOfUnknownPointer));
            Assert.Equal(0, stats.AnomalyCount(TraceAnomalyKind.ReallocOfUnknownPointer));
            Assert.Equal(0, stats.AnomalyCount(TraceAnomalyKind.AllocationOfLiveAddress));

            PreparedTrace prepared = TracePreparer.Prepare(events, dir.File($"cut-{length}.prepared"));
            Assert.DoesNotContain(prepared.Issues, i => i.Kind == TraceIssueKind.UnknownPointer);
            Assert.Equal(0, prepared.IssueCount);

            // The ptmalloc model takes the prefix too: no call it would abort on (a free glibc would reject).
            using TraceReader verified = TraceReader.Open(cut);
            ParityReport report = TraceVerifier.Run(verified.Header, [.. verified.ReadAll()]);
            Assert.Null(report.Abort);
            cuts++;
        }

        Assert.Equal(5, cuts);
    }
}
