namespace PtReplay.Traces;

/// <summary>What <see cref="TracePacker.Pack(string, string, TraceWriterOptions?, IProgress{long}?)"/> did.</summary>
/// <param name="Events">Events written.</param>
/// <param name="InputBytes">Size of the input file.</param>
/// <param name="OutputBytes">Size of the packed file.</param>
/// <param name="Truncated">The input was truncated; the output is too (it has no end block either).</param>
/// <param name="Corruption">Damage that stopped reading the input (the output holds every event before it, and no end block); null when none.</param>
public sealed record PackResult(long Events, long InputBytes, long OutputBytes, bool Truncated, TraceCorruptException? Corruption)
{
    /// <summary>Output bytes per event (header included).</summary>
    public double BytesPerEvent => Events == 0 ? 0 : (double)OutputBytes / Events;
}

/// <summary>
/// Rewrites a trace (normally a raw per-thread recording) into the packed layout: mixed blocks in global
/// timestamp order, compressed (<see cref="TraceWriterOptions.Packed"/>: codec and level chosen by measurement,
/// see README "Trace format: measured"). The events a <see cref="TraceReader"/> delivers, thread numbers and
/// tids included, are the same before and after packing. A truncated input gives a truncated output; a
/// corrupt input gives an output with every event before the damage, without an end block.
/// </summary>
public static class TracePacker
{
    /// <summary>
    /// The zstd level of <see cref="Repack"/> (and of `record`'s packer, which compresses on the other CPU while the
    /// traced program runs, so its CPU time is time the program shares a machine with): chosen by measurement on
    /// recorder blocks. Level 1 compresses a python3 recording in about 60 % of level 3's CPU time for 12 % more bytes;
    /// the negative "fast" levels save little more time and lose a quarter of the ratio
    /// (docs/benchmarks/2026-12-03-record-end-to-end.md, docs/benchmarks/2026-12-03-online-packing.md).
    /// </summary>
    public const int RepackLevel = 1;

    /// <summary>
    /// Packs a recording the way `record` does: each raw block of the recorder is stored zstd-compressed as it is
    /// (same thread, counts, flags and base timestamp; see <see cref="Packing.BlockRepacker"/>), in file order, so a
    /// reader merges the threads as for the raw file and delivers the same events, tids, lost-event count and
    /// truncation state. Much cheaper than <see cref="Pack"/>: nothing is decoded. An input this cannot copy block by
    /// block (damaged, cut inside a block, format version 1) is packed by <see cref="Pack"/> instead, so damage is
    /// reported as there. Written to a temp file beside <paramref name="output"/>, then renamed (input and output may
    /// be the same path). <see cref="PackResult.Events"/> counts the events in the blocks copied.
    /// </summary>
    public static PackResult Repack(string input, string output, int level = RepackLevel)
    {
        string temp = output + ".packing";
        long inputBytes = new FileInfo(input).Length;
        var repacker = new Packing.BlockRepacker(input, temp, level);
        try
        {
            if (repacker.Advance(final: true) != Packing.RepackStep.Done)
            {
                repacker.Dispose();
                File.Delete(temp);
                return Pack(input, output);
            }

            return Finish(repacker, output, inputBytes);
        }
        catch
        {
            repacker.Dispose();
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Completes a repacker whose final pass reached the end of its input and renames its output over <paramref name="output"/>.</summary>
    internal static PackResult Finish(Packing.BlockRepacker repacker, string output, long inputBytes)
    {
        long events = repacker.Events;
        bool complete = repacker.SawEnd;
        string temp = repacker.Temp;
        repacker.Complete();
        File.Move(temp, output, overwrite: true);
        return new PackResult(events, inputBytes, new FileInfo(output).Length, !complete, null);
    }

    /// <summary>Packs <paramref name="input"/> into <paramref name="output"/> (written to a temp file beside it, then renamed; input and output may be the same path).</summary>
    public static PackResult Pack(string input, string output, TraceWriterOptions? options = null, IProgress<long>? progress = null)
    {
        string temp = output + ".packing";
        long events = 0;
        bool truncated;
        long inputBytes;
        TraceCorruptException? corruption = null;
        try
        {
            using (TraceReader reader = TraceReader.Open(input))
            using (TraceWriter writer = TraceWriter.Create(temp, reader.Header, options ?? TraceWriterOptions.Packed))
            {
                inputBytes = reader.FileLength;
                if (reader.Stacks.Count > 0 || reader.Stacks.Modules.Count > 0)
                {
                    writer.WriteStacks(reader.Stacks); // the reader holds the whole table from the open on
                }

                var buffer = new AllocEvent[16384];
                int declared = 0;
                while (true)
                {
                    int n;
                    try
                    {
                        n = reader.ReadBatch(buffer);
                    }
                    catch (TraceCorruptException ex)
                    {
                        corruption = ex;
                        break;
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    IReadOnlyList<int> tids = reader.ThreadTids;
                    for (; declared < tids.Count; declared++)
                    {
                        writer.DeclareThread(declared, tids[declared]);
                    }

                    writer.Write(buffer.AsSpan(0, n));
                    events += n;
                    progress?.Report(events);
                }

                truncated = reader.IsTruncated;
                if (!truncated && corruption is null)
                {
                    writer.Complete(reader.LostEvents);
                }
            }

            File.Move(temp, output, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        return new PackResult(events, inputBytes, new FileInfo(output).Length, truncated, corruption);
    }
}
