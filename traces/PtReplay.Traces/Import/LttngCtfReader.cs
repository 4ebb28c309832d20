using System.Globalization;
using System.IO.Compression;
using System.Runtime.ExceptionServices;
using System.Text;
using Microsoft.Diagnostics.Tracing;

namespace PtReplay.Traces.Import;

/// <summary>What one CTF trace folder held besides the libc events.</summary>
/// <param name="OtherEvents">Events of other providers.</param>
/// <param name="DiscardedEvents">Events the tracer discarded (ring buffer full), from the packet contexts.</param>
/// <param name="LostPackets">Packets missing from the packet sequence numbers.</param>
/// <param name="HasVtid">The event context holds vtid.</param>
/// <param name="HasVpid">The event context holds vpid.</param>
public sealed record LttngCtfFolderStats(long OtherEvents, long DiscardedEvents, long LostPackets, bool HasVtid, bool HasVpid);

/// <summary>
/// Reads the lttng_ust_libc events of one CTF trace folder (a metadata file and its channel files, as LTTng-UST
/// writes them) with TraceEvent's <see cref="CtfTraceEventSource"/>, in time order.
/// <para>How: the metadata is checked first (little-endian user-space trace; each stream's event context, if
/// any, has procname, which the reader needs whenever a context is present; the six libc events have the
/// payload fields the wrapper declares, see <see cref="LttngLibcLayout"/>), each channel file's packets are
/// walked (<see cref="CtfChannelScan"/>), then the folder is zipped without compression to a temporary file
/// (the source's only input), read, and the zip deleted. Timestamps are the raw clock value plus the
/// metadata's clock offset (<see cref="LttngTraceMetadata.ToEpochNs"/>), the same ns since the Unix epoch
/// babeltrace2 prints with --clock-seconds; the source's own wall-clock time is not used.</para>
/// <para>TraceEvent 4.0.0 takes a compact (27-bit) event timestamp whose low bits equal the previous event's as a
/// wrap of the 27-bit counter (about 134 ms later): two events of one CPU within the same clock tick would be
/// misdated. An event later than every packet's timestamp_end is such a misreading and fails the import; one
/// that stays within the trace's time span cannot be told.</para>
/// </summary>
public static class LttngCtfReader
{
    /// <summary>The context LTTng must record for this reader (threads, processes, and procname, which it needs).</summary>
    public const string AddContextCommand = "lttng add-context -u -t vpid -t vtid -t procname";

    /// <summary>
    /// Reads <paramref name="folder"/> (holding "metadata" and channel files) and calls <paramref name="onEvent"/>
    /// for each libc event in time order; throws <see cref="LttngImportException"/> naming the file (and byte
    /// offset or event index) when the trace cannot be read.
    /// </summary>
    public static LttngCtfFolderStats Read(string folder, Action<LttngLibcRecord> onEvent)
    {
        ArgumentNullException.ThrowIfNull(onEvent);
        string metadataPath = Path.Combine(folder, "metadata");
        LttngTraceMetadata metadata = LttngTraceMetadata.Read(metadataPath);
        if (metadata.Domain != "ust")
        {
            throw metadata.Bad($"env.domain = \"{metadata.Domain}\": not a user-space (ust) trace");
        }

        (bool hasVtid, bool hasVpid, bool hasProcname) = CheckContexts(metadata);
        var layouts = new LttngLibcLayout?[Enum.GetValues<LttngLibcEventKind>().Length];
        var others = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string name, IReadOnlyList<CtfField> fields) in metadata.Events)
        {
            LttngLibcEventKind kind = LttngLibcTraceEventParser.KindOf(name);
            if (kind == LttngLibcEventKind.Other)
            {
                others.Add(name);
            }
            else
            {
                layouts[(int)kind] = LttngLibcLayout.FromMetadata(kind, name, fields, metadataPath);
            }
        }

        List<string> channels = ChannelFiles(folder, metadataPath);
        long discarded = 0, lost = 0, packets = 0;
        ulong lastEnd = 0;
        foreach (string channel in channels)
        {
            (long p, long d, long l, ulong end) = CtfChannelScan.Scan(channel, metadata);
            packets += p;
            discarded += d;
            lost += l;
            lastEnd = Math.Max(lastEnd, end);
        }

        long otherEvents = 0;
        if (packets > 0)
        {
            var context = new ReadContext(folder, metadata, layouts, hasVtid, hasVpid, hasProcname, lastEnd == 0 ? ulong.MaxValue : lastEnd);
            otherEvents = ReadEvents(context, channels, others, onEvent);
        }

        return new LttngCtfFolderStats(otherEvents, discarded, lost, hasVtid, hasVpid);
    }

    /// <summary>
    /// Checks every stream's event context: without one TraceEvent reads the events without thread or process;
    /// with one, it needs procname (an 8-bit character array), else it fails on the first event.
    /// </summary>
    private static (bool HasVtid, bool HasVpid, bool HasProcname) CheckContexts(LttngTraceMetadata metadata)
    {
        bool vtid = metadata.StreamContexts.Count > 0, vpid = vtid, procname = vtid;
        foreach ((uint id, IReadOnlyList<CtfField> context) in metadata.StreamContexts)
        {
            bool hasProcname = context.Any(f => f is { Name: "_procname", IsInteger: true, SizeBits: 8 } && f.Count > 1);
            if (context.Count > 0 && !hasProcname)
            {
                throw metadata.Bad(
                    $"stream {id}'s event context is ({string.Join(", ", context.Select(f => f.Name.TrimStart('_')))}) without procname; " +
                    $"TraceEvent's CTF reader, which import-lttng uses, cannot read events with a context that lacks procname. " +
                    $"Record with `{AddContextCommand}` (see `ptreplay import-lttng --help`)");
            }

            vtid &= context.Any(f => f.Name == "_vtid" && f.IsInteger);
            vpid &= context.Any(f => f.Name == "_vpid" && f.IsInteger);
            procname &= hasProcname;
        }

        return (vtid, vpid, procname);
    }

    /// <summary>
    /// The channel files of <paramref name="folder"/> in CPU order (channel0_0, channel0_1, ..., channel0_10; the
    /// reader's merge gives events with equal times in the order of its files). TraceEvent reads only files named
    /// channel*_N, LTTng's default channel names: any other file there means a renamed channel.
    /// </summary>
    private static List<string> ChannelFiles(string folder, string metadataPath)
    {
        var channels = new List<(string Channel, int Cpu, string Path)>();
        var renamed = new List<string>();
        foreach (string file in Directory.EnumerateFiles(folder))
        {
            string name = Path.GetFileName(file);
            if (name == "metadata" || name.StartsWith('.'))
            {
                continue;
            }

            int underscore = name.LastIndexOf('_');
            if (name.StartsWith("channel", StringComparison.Ordinal) && underscore > 0
                && int.TryParse(name.AsSpan(underscore + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int cpu))
            {
                channels.Add((name[..underscore], cpu, file));
            }
            else
            {
                renamed.Add(name);
            }
        }

        if (renamed.Count > 0)
        {
            throw new LttngImportException(
                $"{folder}: files {string.Join(", ", renamed.Order(StringComparer.Ordinal).Take(4))} are not channel files with LTTng's default names " +
                "(channel0_0, channel0_1, ...), the only ones TraceEvent's CTF reader reads: record without naming the channel " +
                "(or name it channel0), see `ptreplay import-lttng --help`");
        }

        if (channels.Count == 0)
        {
            throw new LttngImportException($"{folder}: {Path.GetFileName(metadataPath)} but no channel files (channel0_0, ...) beside it");
        }

        return [.. channels.OrderBy(c => c.Channel, StringComparer.Ordinal).ThenBy(c => c.Cpu).Select(c => c.Path)];
    }

    /// <summary>What turning one TraceEvent event into a record needs.</summary>
    private sealed record ReadContext(string Folder, LttngTraceMetadata Metadata, LttngLibcLayout?[] Layouts,
        bool HasVtid, bool HasVpid, bool HasProcname, ulong LastEnd)
    {
        public HashSet<int> SeenPids { get; } = [];
    }

    private static long ReadEvents(ReadContext c, List<string> channels, HashSet<string> others, Action<LttngLibcRecord> onEvent)
    {
        string folder = c.Folder;
        string zip = Path.Combine(Path.GetTempPath(), $"ptreplay-lttng-{Guid.NewGuid():N}.zip");
        try
        {
            WriteZip(zip, folder, channels);
            long index = 0, otherEvents = 0;
            Exception? failure = null;
            CtfTraceEventSource source;
            try
            {
                source = new CtfTraceEventSource(zip);
            }
            catch (EndOfStreamException)
            {
                return 0;   // packets without events
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw ReaderFailed(folder, 0, e);
            }

            using (source)
            {
                var parser = new LttngLibcTraceEventParser(source, others);
                parser.Event += data =>
                {
                    if (failure is not null)
                    {
                        return;
                    }

                    try
                    {
                        index++;
                        if (data.Kind == LttngLibcEventKind.Other)
                        {
                            otherEvents++;
                            return;
                        }

                        onEvent(ToRecord(data, c, index));
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        failure = e;
                        source.StopProcessing();
                    }
                };
                try
                {
                    source.Process();
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    throw ReaderFailed(folder, index, e);
                }
            }

            if (failure is not null)
            {
                ExceptionDispatchInfo.Throw(failure);
            }

            return otherEvents;
        }
        finally
        {
            if (File.Exists(zip))
            {
                File.Delete(zip);
            }
        }
    }

    private static unsafe LttngLibcRecord ToRecord(LttngLibcTraceData data, ReadContext c, long index)
    {
        string name = LttngLibcTraceEventParser.EventName(data.Kind);
        LttngLibcLayout layout = c.Layouts[(int)data.Kind] ?? throw c.Metadata.Bad($"event {name} occurs but is not declared");
        if (data.EventDataLength < layout.Bytes)
        {
            throw new LttngImportException(string.Create(CultureInfo.InvariantCulture,
                $"{c.Folder}: event {index} ({name}): payload of {data.EventDataLength} bytes, {layout.Bytes} declared: file damaged"));
        }

        var payload = new ReadOnlySpan<byte>((void*)data.DataStart, data.EventDataLength);
#pragma warning disable CS0618 // The raw clock value is what is wanted here: TimeStamp (wall clock) is wrong for LTTng traces on Linux.
        ulong raw = (ulong)data.TimeStampQPC;
#pragma warning restore CS0618
        if (raw > c.LastEnd)
        {
            string where = string.Create(CultureInfo.InvariantCulture, $"{c.Folder}: event {index} ({name}) read at clock value {raw}, after the last packet's end ({c.LastEnd})");
            throw new LttngImportException(
                $"{where}: TraceEvent's CTF reader misdated it (two events of one CPU in the same clock tick) or the file is damaged");
        }

        int vtid = c.HasVtid ? data.ThreadID : -1, vpid = c.HasVpid ? data.ProcessID : -1;
        LttngLibcRecord record = layout.ToRecord(payload, c.Metadata.ToEpochNs(raw), vtid, vpid, index);
        if (c.HasProcname && c.SeenPids.Add(vpid))
        {
            record = record with { Procname = data.ProcessName };
        }

        return record;
    }

    /// <summary>Zips the metadata and <paramref name="channels"/> without compression, under the folder's own name (TraceEvent takes a "64-bit" folder for 64-bit pointers).</summary>
    private static void WriteZip(string zip, string folder, List<string> channels)
    {
        string prefix = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))) + "/";
        string metadata = Path.Combine(folder, "metadata");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(metadata);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LttngImportException($"{metadata}: cannot be read ({e.Message})", e);
        }

        ZipArchive archive;
        try
        {
            archive = ZipFile.Open(zip, ZipArchiveMode.Create);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw ScratchFailed(zip, e);
        }

        using (archive)
        {
            try
            {
                ZipArchiveEntry entry = archive.CreateEntry(prefix + "metadata", CompressionLevel.NoCompression);
                using Stream s = entry.Open();
                // The reader takes packetized metadata only: plain text goes into one packet.
                if (bytes.Length >= 4 && BitConverter.ToUInt32(bytes, 0) == CtfMetadataText.PacketMagic)
                {
                    s.Write(bytes);
                }
                else
                {
                    s.Write(PacketOf(Encoding.UTF8.GetString(bytes)));
                }
            }
            catch (IOException e)
            {
                throw ScratchFailed(zip, e);
            }

            foreach (string channel in channels)
            {
                CopyChannel(archive, channel, prefix + Path.GetFileName(channel), zip);
            }
        }
    }

    /// <summary>Copies one channel file into the zip: a failure to read it blames the channel, a failure to write the zip blames the zip.</summary>
    private static void CopyChannel(ZipArchive archive, string channel, string name, string zip)
    {
        FileStream input;
        try
        {
            input = new FileStream(channel, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LttngImportException($"{channel}: cannot be read ({e.Message})", e);
        }

        using (input)
        {
            using Stream output = archive.CreateEntry(name, CompressionLevel.NoCompression).Open();
            byte[] buffer = new byte[1 << 16];
            while (true)
            {
                int n;
                try
                {
                    n = input.Read(buffer);
                }
                catch (IOException e)
                {
                    throw new LttngImportException($"{channel}: cannot be read ({e.Message})", e);
                }

                if (n == 0)
                {
                    break;
                }

                try
                {
                    output.Write(buffer, 0, n);
                }
                catch (IOException e)
                {
                    throw ScratchFailed(zip, e);
                }
            }
        }
    }

    private static ScratchFileException ScratchFailed(string zip, Exception e) => new(
        $"{zip}: cannot write the temporary zip TraceEvent's CTF reader reads ({e.Message}); set TMPDIR to a folder with room for a copy of the trace", e);

    /// <summary>One metadata packet holding <paramref name="text"/> (37-byte header, sizes in bits).</summary>
    private static byte[] PacketOf(string text)
    {
        byte[] content = Encoding.UTF8.GetBytes(text);
        byte[] packet = new byte[37 + content.Length];
        BitConverter.TryWriteBytes(packet.AsSpan(0), CtfMetadataText.PacketMagic);
        BitConverter.TryWriteBytes(packet.AsSpan(24), (uint)(packet.Length * 8));
        BitConverter.TryWriteBytes(packet.AsSpan(28), (uint)(packet.Length * 8));
        packet[35] = 1;
        packet[36] = 8;
        content.CopyTo(packet, 37);
        return packet;
    }

    private static LttngImportException ReaderFailed(string folder, long index, Exception e) => new(string.Create(CultureInfo.InvariantCulture,
        $"{folder}: TraceEvent's CTF reader failed after event {index} ({e.GetType().Name}: {e.Message}): trace damaged or not written by LTTng-UST"), e);
}
