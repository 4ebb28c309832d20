using System.Buffers.Binary;

namespace PtReplay.Traces.Import;

/// <summary>
/// Where each payload field of one lttng_ust_libc event lies in the raw bytes TraceEvent's CTF reader hands
/// over, derived from the trace's metadata and checked against what liblttng-ust-libc-wrapper declares (see
/// <see cref="LttngLibcEventKind"/>): the same field names in the same order, each a whole-byte integer of
/// 32 or 64 bits (64-bit or 32-bit traces). LTTng-UST packs fields byte-aligned, so field i starts at the sum
/// of the sizes before it.
/// <para>Invariants: <see cref="Offsets"/>, <see cref="Sizes"/> and <see cref="Signed"/> have one entry per
/// expected field of <see cref="Kind"/>; <see cref="Bytes"/> is the end of the last field.</para>
/// </summary>
public sealed class LttngLibcLayout
{
    private LttngLibcLayout(LttngLibcEventKind kind, int[] offsets, int[] sizes, bool[] signed)
    {
        Kind = kind;
        Offsets = offsets;
        Sizes = sizes;
        Signed = signed;
        Bytes = offsets.Length == 0 ? 0 : offsets[^1] + sizes[^1];
    }

    /// <summary>The event.</summary>
    public LttngLibcEventKind Kind { get; }

    /// <summary>Byte offset of each expected field in the payload.</summary>
    public IReadOnlyList<int> Offsets { get; }

    /// <summary>Bytes of each expected field (4 or 8).</summary>
    public IReadOnlyList<int> Sizes { get; }

    /// <summary>Whether each expected field is signed.</summary>
    public IReadOnlyList<bool> Signed { get; }

    /// <summary>Payload bytes the fields take.</summary>
    public int Bytes { get; }

    /// <summary>The payload field names the wrapper declares for <paramref name="kind"/>, in order, as TSDL spells them.</summary>
    public static IReadOnlyList<string> ExpectedFields(LttngLibcEventKind kind) => kind switch
    {
        LttngLibcEventKind.Malloc => ["_size", "_ptr"],
        LttngLibcEventKind.Calloc => ["_nmemb", "_size", "_ptr"],
        LttngLibcEventKind.Realloc => ["_in_ptr", "_size", "_ptr"],
        LttngLibcEventKind.Free => ["_ptr"],
        LttngLibcEventKind.Memalign => ["_alignment", "_size", "_ptr"],
        LttngLibcEventKind.PosixMemalign => ["_out_ptr", "_alignment", "_size", "_result"],
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a libc event"),
    };

    /// <summary>
    /// The layout of event <paramref name="name"/> from its declared <paramref name="fields"/>; throws
    /// <see cref="LttngImportException"/> naming <paramref name="metadataPath"/> when they differ from what the
    /// wrapper declares.
    /// </summary>
    public static LttngLibcLayout FromMetadata(LttngLibcEventKind kind, string name, IReadOnlyList<CtfField> fields, string metadataPath)
    {
        ArgumentNullException.ThrowIfNull(fields);
        IReadOnlyList<string> expected = ExpectedFields(kind);
        bool namesMatch = fields.Count == expected.Count && fields.Select(f => f.Name).SequenceEqual(expected);
        if (!namesMatch)
        {
            throw new LttngImportException(
                $"{metadataPath}: event {name} has payload fields ({string.Join(", ", fields.Select(f => f.Name))}) where " +
                $"liblttng-ust-libc-wrapper declares ({string.Join(", ", expected)}): not a trace of the libc wrapper this importer reads");
        }

        int[] offsets = new int[fields.Count], sizes = new int[fields.Count];
        bool[] signed = new bool[fields.Count];
        int offset = 0;
        for (int i = 0; i < fields.Count; i++)
        {
            CtfField f = fields[i];
            if (!f.IsInteger || f.Count != 1 || f.SizeBits is not (32 or 64) || f.AlignBits != 8)
            {
                throw new LttngImportException(
                    $"{metadataPath}: event {name} field {f}: a byte-aligned 32- or 64-bit integer expected (the layout LTTng-UST writes)");
            }

            offsets[i] = offset;
            sizes[i] = f.SizeBits / 8;
            signed[i] = f.Signed;
            offset += sizes[i];
        }

        return new LttngLibcLayout(kind, offsets, sizes, signed);
    }

    /// <summary>Field <paramref name="i"/> of <paramref name="payload"/> as an unsigned value (sign-extended first when it is signed).</summary>
    public ulong Read(ReadOnlySpan<byte> payload, int i)
    {
        ReadOnlySpan<byte> at = payload[Offsets[i]..];
        return (Sizes[i], Signed[i]) switch
        {
            (8, _) => BinaryPrimitives.ReadUInt64LittleEndian(at),
            (_, true) => (ulong)(long)BinaryPrimitives.ReadInt32LittleEndian(at),
            _ => BinaryPrimitives.ReadUInt32LittleEndian(at),
        };
    }

    /// <summary>
    /// The record for one event of this kind from its payload (<paramref name="payload"/> holds at least
    /// <see cref="Bytes"/> bytes) and its time and context.
    /// </summary>
    public LttngLibcRecord ToRecord(ReadOnlySpan<byte> payload, long timestampNs, int vtid, int vpid, long index) => Kind switch
    {
        LttngLibcEventKind.Malloc => new(Kind, timestampNs, vtid, vpid, Read(payload, 0), 0, 0, Read(payload, 1), 0, 0, index),
        LttngLibcEventKind.Calloc => new(Kind, timestampNs, vtid, vpid, Read(payload, 1), Read(payload, 0), 0, Read(payload, 2), 0, 0, index),
        LttngLibcEventKind.Realloc => new(Kind, timestampNs, vtid, vpid, Read(payload, 1), 0, Read(payload, 0), Read(payload, 2), 0, 0, index),
        LttngLibcEventKind.Free => new(Kind, timestampNs, vtid, vpid, 0, 0, Read(payload, 0), 0, 0, 0, index),
        LttngLibcEventKind.Memalign => new(Kind, timestampNs, vtid, vpid, Read(payload, 1), 0, 0, Read(payload, 2), Read(payload, 0), 0, index),
        _ => new(Kind, timestampNs, vtid, vpid, Read(payload, 2), 0, 0, Read(payload, 0), Read(payload, 1), (int)Read(payload, 3), index),
    };
}
