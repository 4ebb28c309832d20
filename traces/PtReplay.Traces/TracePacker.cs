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
