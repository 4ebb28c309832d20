using PtReplay.Replay.Preparation;
using PtReplay.Tests.Infrastructure;
using PtReplay.Traces;
using PtReplay.Traces.Analysis;
using PtReplay.Traces.Import;

namespace PtReplay.Tests.Fuzz;

/// <summary>
/// What the fuzzing harness runs on each input. A target returns normally or throws one of the exceptions its API
/// documents for bad input (<see cref="TraceCorruptException"/> for the reader, <see cref="MtraceFormatException"/>
/// for the mtrace parser); any other exception is a finding. Every target also prepares what it read for replay (the
/// preparation, non-strict, takes any event sequence).
/// </summary>
internal static class FuzzTargets
{
    /// <summary>Reads a trace the three ways the verbs do (events, statistics, preparation); returns the events read before any damage.</summary>
    public static long ReadTrace(byte[] file)
    {
        var events = new List<AllocEvent>();
        try
        {
            using TraceReader reader = TraceReader.Open(new MemoryStream(file), "fuzz.trace");
            foreach (AllocEvent e in reader.ReadAll())
            {
                events.Add(e);
            }
        }
        catch (TraceCorruptException)
        {
            // Documented: a damaged trace is read up to the damage.
        }

        try
        {
            using TraceReader again = TraceReader.Open(new MemoryStream(file), "fuzz.trace");
            TraceStatistics stats = TraceStatistics.Compute(again);
            Assert.Equal(events.Count, stats.Events);
            Assert.True(stats.PeakLiveBytes >= stats.LiveBytes);
        }
        catch (TraceCorruptException)
        {
            // The header itself is damaged: Open throws, as documented.
        }

        Prepare(events);
        return events.Count;
    }

    /// <summary>Parses mtrace text, converts it to events and prepares them; returns the events.</summary>
    public static long ImportMtrace(byte[] text)
    {
        var events = new List<AllocEvent>();
        try
        {
            using var reader = new StreamReader(new MemoryStream(text));
            foreach (MtraceRecord r in MtraceParser.Parse(reader, "fuzz.mtrace"))
            {
                if (MtraceImporter.ToEvent(r, events.Count) is { } e)
                {
                    events.Add(e);
                }
            }
        }
        catch (MtraceFormatException)
        {
            // Documented: a malformed line is reported with its line number.
        }

        Prepare(events);
        return events.Count;
    }

    /// <summary>The metadata of the LTTng seed trace (Fuzz/Seeds/lttng-ctf), the declarations mutated channel files are read with.</summary>
    public static readonly string LttngSeedFolder = Path.Combine(RepoFiles.Root, "tests", "PtReplay.Tests", "Fuzz", "Seeds", "lttng-ctf");

    /// <summary>
    /// Imports a CTF trace folder holding the LTTng seed's metadata and <paramref name="channel"/> as its channel file
    /// (what `import-lttng` reads with TraceEvent's CTF reader), reads back every trace it wrote (one per process)
    /// and prepares each; returns the events. Documented failure: <see cref="LttngImportException"/> (a damaged
    /// packet, with file and byte offset; a reader failure, with the event index; no libc events).
    /// </summary>
    public static long ImportLttngChannel(byte[] channel) => ImportLttng(File.ReadAllBytes(Path.Combine(LttngSeedFolder, "metadata")),
        [("channel0_0", channel)]);

    /// <summary>
    /// Imports a CTF trace folder holding <paramref name="metadata"/> and the LTTng seed's channel files, like
    /// <see cref="ImportLttngChannel"/>: damaged metadata (cut, garbled, other declarations) must fail with
    /// <see cref="LttngImportException"/> or read as what it declares.
    /// </summary>
    public static long ImportLttngMetadata(byte[] metadata) => ImportLttng(metadata,
        [.. Directory.GetFiles(LttngSeedFolder, "channel*").Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f)))]);

    private static long ImportLttng(byte[] metadata, IEnumerable<(string Name, byte[] Bytes)> channels)
    {
        string folder = Directory.CreateTempSubdirectory("ptreplay-fuzz-lttng-").FullName;
        long total = 0;
        try
        {
            string trace = Directory.CreateDirectory(Path.Combine(folder, "trace", "64-bit")).FullName;
            File.WriteAllBytes(Path.Combine(trace, "metadata"), metadata);
            foreach ((string name, byte[] bytes) in channels)
            {
                File.WriteAllBytes(Path.Combine(trace, name), bytes);
            }

            LttngImportResult result;
            try
            {
                result = LttngImporter.Import(Path.Combine(folder, "trace"), Path.Combine(folder, "imported.trace"));
            }
            catch (LttngImportException)
            {
                return 0;
            }

            foreach (LttngImportedProcess process in result.Processes)
            {
                using TraceReader written = TraceReader.Open(process.Path);
                List<AllocEvent> events = [.. written.ReadAll()];
                Assert.Equal(process.Events, events.Count);
                total += events.Count;
                Prepare(events);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }

        return total;
    }

    private static void Prepare(List<AllocEvent> events)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ptreplay-fuzz-{Guid.NewGuid():N}.prepared");
        try
        {
            PreparedTrace prepared = TracePreparer.Prepare(events, path, new PreparationOptions { MaxIssuesKept = 10 });
            Assert.True(prepared.PeakLiveBytes >= prepared.FinalLiveBytes);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
