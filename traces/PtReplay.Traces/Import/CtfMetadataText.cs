using System.Buffers.Binary;
using System.Text;

namespace PtReplay.Traces.Import;

/// <summary>
/// Reads the TSDL text of a CTF 1.8 metadata file. LTTng writes it either as plain text (starting
/// "/* CTF 1.8") or packetized: a sequence of packets, each a 37-byte little-endian header (magic 0x75D11D57,
/// uuid[16], checksum, content_size and packet_size in bits, compression, encryption and checksum schemes,
/// major, minor) followed by content_size/8 - 37 bytes of text and padding up to packet_size/8.
/// </summary>
public static class CtfMetadataText
{
    /// <summary>The magic number of a metadata packet (little-endian traces).</summary>
    public const uint PacketMagic = 0x75D11D57;

    private const int PacketHeaderBytes = 37;

    /// <summary>The metadata text of <paramref name="path"/>; throws <see cref="LttngImportException"/> naming the file and byte offset when it is damaged.</summary>
    public static string Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new LttngImportException($"{path}: cannot be read: {e.Message}", e);
        }

        return Decode(bytes, path);
    }

    /// <summary>The metadata text in <paramref name="bytes"/> (plain or packetized); <paramref name="path"/> names it in errors.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes, string path)
    {
        if (bytes.Length < 4 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != PacketMagic)
        {
            if (bytes.IndexOf((byte)0) is int nul and >= 0)
            {
                throw new LttngImportException($"{path}: byte offset {nul}: a NUL byte in plain-text CTF metadata (damaged file?)");
            }

            return Encoding.UTF8.GetString(bytes);
        }

        var text = new StringBuilder(bytes.Length);
        long offset = 0;
        while (offset < bytes.Length)
        {
            ReadOnlySpan<byte> rest = bytes[(int)offset..];
            if (rest.Length < PacketHeaderBytes || BinaryPrimitives.ReadUInt32LittleEndian(rest) != PacketMagic)
            {
                throw new LttngImportException($"{path}: byte offset {offset}: not a metadata packet (magic 0x75D11D57 and a 37-byte header expected)");
            }

            ulong contentBits = BinaryPrimitives.ReadUInt32LittleEndian(rest[24..]);
            ulong packetBits = BinaryPrimitives.ReadUInt32LittleEndian(rest[28..]);
            if (rest[32] != 0 || rest[33] != 0)
            {
                throw new LttngImportException($"{path}: byte offset {offset}: compressed or encrypted metadata packet (not written by LTTng)");
            }

            if (contentBits % 8 != 0 || packetBits % 8 != 0 || contentBits / 8 < PacketHeaderBytes || contentBits > packetBits
                || packetBits / 8 > (ulong)rest.Length)
            {
                throw new LttngImportException(
                    $"{path}: byte offset {offset}: metadata packet sizes out of range (content {contentBits} bits, packet {packetBits} bits, {rest.Length} bytes left)");
            }

            ReadOnlySpan<byte> content = rest[PacketHeaderBytes..(int)(contentBits / 8)];
            if (content.IndexOf((byte)0) is int nul and >= 0)
            {
                throw new LttngImportException($"{path}: byte offset {offset + PacketHeaderBytes + nul}: a NUL byte in the metadata text (damaged file?)");
            }

            text.Append(Encoding.UTF8.GetString(content));
            offset += (long)(packetBits / 8);
        }

        return text.ToString();
    }
}
