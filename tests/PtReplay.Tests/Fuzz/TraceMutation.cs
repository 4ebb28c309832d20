using System.Buffers.Binary;
using PtReplay.Traces.Format;

namespace PtReplay.Tests.Fuzz;

/// <summary>One change to an input's bytes: what, where (taken modulo the length) and a value.</summary>
/// <param name="Kind">0 flip a bit, 1 set a byte, 2 cut the file, 3 insert bytes, 4 delete bytes, 5 write an edge u32
/// (0, 1, 0x7fffffff, 0x80000000, 0xffffffff), 6 copy a run of bytes from elsewhere.</param>
/// <param name="Position">Where, modulo the input's length.</param>
/// <param name="Value">The byte, bit, count or source, depending on the kind.</param>
public readonly record struct Mutation(int Kind, int Position, int Value)
{
    /// <summary>Number of mutation kinds.</summary>
    public const int Kinds = 7;

    private static readonly uint[] EdgeValues = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];

    /// <summary>Applies the mutations in order to a copy of <paramref name="input"/>.</summary>
    public static byte[] Apply(byte[] input, IEnumerable<Mutation> mutations)
    {
        var bytes = new List<byte>(input);
        foreach (Mutation m in mutations)
        {
            if (bytes.Count == 0)
            {
                break;
            }

            int at = (int)((uint)m.Position % (uint)bytes.Count);
            switch (m.Kind)
            {
                case 0:
                    bytes[at] ^= (byte)(1 << (m.Value & 7));
                    break;
                case 1:
                    bytes[at] = (byte)m.Value;
                    break;
                case 2:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 3:
                    bytes.InsertRange(at, Enumerable.Repeat((byte)m.Value, (m.Value & 15) + 1));
                    break;
                case 4:
                    bytes.RemoveRange(at, Math.Min(bytes.Count - at, (m.Value & 63) + 1));
                    break;
                case 5:
                    uint edge = EdgeValues[(uint)m.Value % EdgeValues.Length];
                    for (int i = 0; i < 4 && at + i < bytes.Count; i++)
                    {
                        bytes[at + i] = (byte)(edge >> (8 * i));
                    }

                    break;
                default:
                    int from = (int)((uint)m.Value % (uint)bytes.Count);
                    int length = Math.Min(16, Math.Min(bytes.Count - from, bytes.Count - at));
                    for (int i = 0; i < length; i++)
                    {
                        bytes[at + i] = bytes[from + i];
                    }

                    break;
            }
        }

        return [.. bytes];
    }

    /// <summary>
    /// Recomputes the CRCs of the file header and of every block whose header is intact enough to find (magic and
    /// lengths within the file), so a mutation reaches the decoders, the merge and the preparation instead of
    /// stopping at a CRC mismatch.
    /// </summary>
    public static void FixCrcs(byte[] file)
    {
        if (file.Length < 20 || !file.AsSpan(0, 8).SequenceEqual("PTRTRACE"u8))
        {
            return;
        }

        int version = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8));
        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12));
        if (bodyLength > file.Length - 20)
        {
            return;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(16 + (int)bodyLength),
            System.IO.Hashing.Crc32.HashToUInt32(file.AsSpan(16, (int)bodyLength)));
        long offset = 16 + bodyLength + 4;
        while (offset + BlockHeader.Size <= file.Length)
        {
            BlockHeader h = BlockHeader.Read(file.AsSpan((int)offset));
            if (h.BlockMagic != BlockHeader.Magic || h.StoredLength > file.Length - offset - BlockHeader.Size)
            {
                return;
            }

            ReadOnlySpan<byte> stored = file.AsSpan((int)offset + BlockHeader.Size, (int)h.StoredLength);
            BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan((int)offset + BlockHeader.CrcOffset), h.ComputeCrc(stored, version));
            offset += BlockHeader.Size + h.StoredLength;
        }
    }
}
