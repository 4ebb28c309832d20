namespace PtReplay.Traces.Format;

/// <summary>Unsigned LEB128 and zigzag helpers (traces/FORMAT.md): 7 bits a byte, low group first, at most 10 bytes.</summary>
internal static class Varint
{
    /// <summary>The longest varint of a 64-bit value.</summary>
    public const int MaxLength = 10;

    /// <summary>Writes <paramref name="value"/> at <paramref name="pos"/>; the caller guarantees 10 free bytes.</summary>
    public static void Write(byte[] buffer, ref int pos, ulong value)
    {
        while (value >= 0x80)
        {
            buffer[pos++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[pos++] = (byte)value;
    }

    /// <summary>Signed to unsigned: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...</summary>
    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    /// <summary>Inverse of <see cref="ZigZag"/>.</summary>
    public static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);
}
