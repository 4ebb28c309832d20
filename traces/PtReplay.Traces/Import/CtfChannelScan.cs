using System.Buffers.Binary;

namespace PtReplay.Traces.Import;

/// <summary>
/// Walks the packets of one CTF channel file before TraceEvent reads it: every packet must start with the CTF
/// magic 0xC1FC1FC1 and a stream id the metadata declares, and its content and packet sizes must fit the file
/// (a cut or damaged file fails here, naming the file and byte offset, instead of deep inside the reader).
/// Also totals what the tracer reported lost: events_discarded (a running count per stream, so the last
/// packet's value) and gaps in packet_seq_num.
/// </summary>
public static class CtfChannelScan
{
    /// <summary>The magic number that starts every packet of a CTF stream file.</summary>
    public const uint PacketMagic = 0xC1FC1FC1;

    /// <summary>
    /// Checks <paramref name="file"/> against <paramref name="metadata"/>; returns its packets, what it says was lost, and
    /// the latest packet end time (raw clock value; 0 when the packet context has no timestamp_end): no event of the
    /// file can be later.
    /// </summary>
    public static (long Packets, long DiscardedEvents, long LostPackets, ulong LastEnd) Scan(string file, LttngTraceMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        (int Offset, int Bytes) magic = Field(metadata.PacketHeader, "magic", metadata);
        (int Offset, int Bytes) streamId = Field(metadata.PacketHeader, "stream_id", metadata);
        (int Offset, int Bytes) contentSize = Field(metadata.PacketContext, "content_size", metadata);
        (int Offset, int Bytes) packetSize = Field(metadata.PacketContext, "packet_size", metadata);
        metadata.PacketContext.TryGetValue("events_discarded", out (int Offset, int Bytes) discarded);
        metadata.PacketContext.TryGetValue("packet_seq_num", out (int Offset, int Bytes) sequence);
        metadata.PacketContext.TryGetValue("timestamp_end", out (int Offset, int Bytes) end);
        int headerEnd = metadata.PacketContext.Values.Max(f => f.Offset + f.Bytes);

        long packets = 0, lastDiscarded = 0, lost = 0;
        ulong lastEnd = 0;
        long? lastSequence = null;
        byte[] head = new byte[headerEnd];
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
            long length = stream.Length, offset = 0;
            while (offset < length)
            {
                string at = $"{file}: byte offset {offset}";
                if (length - offset < headerEnd)
                {
                    throw new LttngImportException($"{at}: a packet header cut short ({length - offset} bytes left, {headerEnd} needed): file damaged or cut");
                }

                stream.Position = offset;
                stream.ReadExactly(head);
                if (Read(head, magic) != PacketMagic)
                {
                    throw new LttngImportException($"{at}: no CTF packet magic (0xC1FC1FC1): file damaged");
                }

                ulong id = Read(head, streamId);
                if (!metadata.StreamContexts.ContainsKey((uint)id) || id > uint.MaxValue)
                {
                    throw new LttngImportException($"{at}: stream id {id} is not declared in {metadata.Path}: file damaged or from another trace");
                }

                ulong content = Read(head, contentSize), size = Read(head, packetSize);
                if (size % 8 != 0 || size / 8 < (ulong)headerEnd || content > size || content / 8 < (ulong)headerEnd)
                {
                    throw new LttngImportException($"{at}: packet sizes out of range (content {content} bits, packet {size} bits): file damaged");
                }

                if (size / 8 > (ulong)(length - offset))
                {
                    throw new LttngImportException($"{at}: the packet is cut short (packet_size says {size / 8} bytes, {length - offset} left): file damaged or cut");
                }

                if (discarded.Bytes > 0)
                {
                    lastDiscarded = (long)Read(head, discarded);
                }

                if (sequence.Bytes > 0)
                {
                    long seq = (long)Read(head, sequence);
                    if (lastSequence is { } previous && seq > previous + 1)
                    {
                        lost += seq - previous - 1;
                    }

                    lastSequence = seq;
                }

                if (end.Bytes > 0)
                {
                    lastEnd = Math.Max(lastEnd, Read(head, end));
                }

                packets++;
                offset += (long)(size / 8);
            }
        }
        catch (Exception e) when (e is IOException and not LttngImportException or UnauthorizedAccessException)
        {
            throw new LttngImportException($"{file}: cannot be read: {e.Message}", e);
        }

        return (packets, lastDiscarded, lost, lastEnd);
    }

    private static (int Offset, int Bytes) Field(IReadOnlyDictionary<string, (int Offset, int Bytes)> layout, string name, LttngTraceMetadata metadata) =>
        layout.TryGetValue(name, out (int Offset, int Bytes) f) && f.Bytes is 4 or 8
            ? f
            : throw metadata.Bad($"the packet header or context has no 32- or 64-bit field {name} (not the layout LTTng writes)");

    private static ulong Read(byte[] head, (int Offset, int Bytes) field) => field.Bytes switch
    {
        8 => BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(field.Offset)),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(field.Offset)),
        2 => BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(field.Offset)),
        _ => head[field.Offset],
    };
}
