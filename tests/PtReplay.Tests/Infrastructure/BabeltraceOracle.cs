using PtReplay.Traces;
using PtReplay.Traces.Import;

namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// The LTTng import tests' oracle: the same trace folder read by babeltrace2 (the reference CTF reader) and
/// its text parsed, written through the importer's own trace writer, so two imports of one trace can be
/// compared event for event.
/// </summary>
public static class BabeltraceOracle
{
    /// <summary>Imports <paramref name="traceDir"/> through babeltrace2's text into <paramref name="outTrace"/> (other processes: OUT.&lt;vpid&gt;).</summary>
    public static LttngImportResult Import(string traceDir, string outTrace)
    {
        IReadOnlyList<string> folders = LttngImporter.FindTraceFolders(traceDir);
        using BabeltraceRun run = BabeltraceRun.Start(folders, traceDir, "/usr/bin/babeltrace2");
        var parser = new BabeltraceTextParser(traceDir);
        LttngImportResult result = LttngImporter.ImportRecords(parser.Parse(run.Output), traceDir, outTrace);
        (long discarded, long lost) = run.Finish();
        return result with { OtherEvents = parser.OtherEvents, DiscardedEvents = discarded, LostPackets = lost };
    }

    /// <summary>
    /// Asserts that two imports wrote the same traces: the same processes in the same files, and in each the
    /// same header (pid, program, start time, clock), the same threads in the same order and the same events.
    /// </summary>
    public static void AssertSameImport(LttngImportResult expected, LttngImportResult actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        Assert.Equal(expected.Processes.Select(p => (p.Pid, p.Events, p.Threads)), actual.Processes.Select(p => (p.Pid, p.Events, p.Threads)));
        Assert.Equal((expected.OtherEvents, expected.DiscardedEvents, expected.LostPackets, expected.HasVtid, expected.HasVpid),
            (actual.OtherEvents, actual.DiscardedEvents, actual.LostPackets, actual.HasVtid, actual.HasVpid));
        for (int i = 0; i < expected.Processes.Count; i++)
        {
            using TraceReader e = TraceReader.Open(expected.Processes[i].Path);
            using TraceReader a = TraceReader.Open(actual.Processes[i].Path);
            Assert.Equal((e.Header.Pid, e.Header.ExecutablePath, e.Header.StartRealtimeNs, e.Header.StartClockNs, e.Header.ClockName),
                (a.Header.Pid, a.Header.ExecutablePath, a.Header.StartRealtimeNs, a.Header.StartClockNs, a.Header.ClockName));
            Assert.Equal(e.ThreadTids, a.ThreadTids);
            List<AllocEvent> ee = [.. e.ReadAll()], ae = [.. a.ReadAll()];
            Assert.Equal(ee.Count, ae.Count);
            int first = Enumerable.Range(0, ee.Count).FirstOrDefault(j => !ee[j].Equals(ae[j]), -1);
            Assert.True(first < 0, first < 0 ? "" : $"{actual.Processes[i].Path}: event {first} is {ae[first]}, babeltrace2 says {ee[first]}");
        }
    }
}
