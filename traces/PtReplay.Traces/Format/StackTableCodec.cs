using System.Text;
using PtReplay.Traces.Stacks;

namespace PtReplay.Traces.Format;

/// <summary>
/// The payload of a stack-table block (block flag bit 4, traces/FORMAT.md "Stacks"): a run of records, each a
/// module mapping or a stack definition.
/// <code>
///   record := u8 type · body
///   type 1 (module) := varint start · varint (end - start) · varint file_offset · varint path_len · path (UTF-8)
///                      · varint build_id_len · build_id (raw bytes; 0 = none)
///   type 2 (stack)  := varint id · varint frame_count · frame_count × zigzag(frame - previous frame) (previous starts at 0)
/// </code>
/// <para>Invariants: a module has start &lt; end; a stack id is at least 1 and defined once per file; a stack has
/// 1..<see cref="MaxFrames"/> frames, innermost first.</para>
/// </summary>
internal static class StackTableCodec
{
    /// <summary>Record type of a module mapping.</summary>
    public const byte ModuleRecord = 1;
    /// <summary>Record type of a stack definition.</summary>
    public const byte StackRecord = 2;
    /// <summary>The most frames one stack may have (the recorder's depth limit is far below).</summary>
    public const int MaxFrames = 1024;
    /// <summary>The longest module path accepted.</summary>
    public const int MaxPath = 4096;

    /// <summary>Appends a module record.</summary>
    public static void WriteModule(List<byte> into, ModuleMapping m)
    {
        into.Add(ModuleRecord);
        Put(into, m.Start);
        Put(into, m.End - m.Start);
        Put(into, m.FileOffset);
        byte[] path = Encoding.UTF8.GetBytes(m.Path);
        Put(into, (ulong)path.Length);
        into.AddRange(path);
        byte[] id = m.BuildId is null ? [] : Convert.FromHexString(m.BuildId);
        Put(into, (ulong)id.Length);
        into.AddRange(id);
    }

    /// <summary>Appends a stack record.</summary>
    public static void WriteStack(List<byte> into, int id, IReadOnlyList<ulong> frames)
    {
        into.Add(StackRecord);
        Put(into, (ulong)id);
        Put(into, (ulong)frames.Count);
        ulong previous = 0;
        foreach (ulong f in frames)
        {
            Put(into, Varint.ZigZag(unchecked((long)(f - previous))));
            previous = f;
        }
    }

    /// <summary>
    /// Decodes <paramref name="count"/> records of <paramref name="payload"/>: modules go to <paramref name="modules"/>
    /// in order, stacks to <paramref name="stacks"/> by id. Returns what is wrong, or null.
    /// </summary>
    public static string? Read(ReadOnlySpan<byte> payload, uint count, List<ModuleMapping> modules, Dictionary<int, ulong[]> stacks)
    {
        int pos = 0;
        for (uint r = 0; r < count; r++)
        {
            if (pos >= payload.Length)
            {
                return $"stack table of {payload.Length} bytes ends before record {r} of {count}";
            }

            byte type = payload[pos++];
            string? bad = type switch
            {
                ModuleRecord => ReadModule(payload, ref pos, modules),
                StackRecord => ReadStack(payload, ref pos, stacks),
                _ => $"unknown stack-table record type {type}",
            };
            if (bad is not null)
            {
                return $"{bad} (record {r} of the block's {count}, payload byte {pos})";
            }
        }

        return pos == payload.Length ? null : $"{count} stack-table records end at payload byte {pos} but the payload has {payload.Length} bytes";
    }

    private static string? ReadModule(ReadOnlySpan<byte> p, ref int pos, List<ModuleMapping> modules)
    {
        if (!Get(p, ref pos, out ulong start) || !Get(p, ref pos, out ulong length) || !Get(p, ref pos, out ulong offset)
            || !Get(p, ref pos, out ulong pathLength))
        {
            return "module record cut short";
        }

        if (length == 0 || start + length < start)
        {
            return $"module at 0x{start:x} has an empty or wrapping range (length {length})";
        }

        if (pathLength > MaxPath || (ulong)(p.Length - pos) < pathLength)
        {
            return $"module path of {pathLength} bytes does not fit";
        }

        string path = Encoding.UTF8.GetString(p.Slice(pos, (int)pathLength));
        pos += (int)pathLength;
        if (!Get(p, ref pos, out ulong idLength) || idLength > 64 || (ulong)(p.Length - pos) < idLength)
        {
            return "module build id cut short or longer than 64 bytes";
        }

        string? buildId = idLength == 0 ? null : Convert.ToHexStringLower(p.Slice(pos, (int)idLength));
        pos += (int)idLength;
        modules.Add(new ModuleMapping(start, start + length, offset, path, buildId));
        return null;
    }

    private static string? ReadStack(ReadOnlySpan<byte> p, ref int pos, Dictionary<int, ulong[]> stacks)
    {
        if (!Get(p, ref pos, out ulong id) || !Get(p, ref pos, out ulong n))
        {
            return "stack record cut short";
        }

        if (id == 0 || id > int.MaxValue)
        {
            return $"stack id {id} out of range (ids start at 1)";
        }

        if (n == 0 || n > MaxFrames)
        {
            return $"stack {id} has {n} frames (1..{MaxFrames} expected)";
        }

        var frames = new ulong[n];
        ulong previous = 0;
        for (int i = 0; i < frames.Length; i++)
        {
            if (!Get(p, ref pos, out ulong z))
            {
                return $"stack {id} cut short at frame {i}";
            }

            previous = unchecked(previous + (ulong)Varint.UnZigZag(z));
            frames[i] = previous;
        }

        return stacks.TryAdd((int)id, frames) ? null : $"stack {id} is defined twice";
    }

    private static void Put(List<byte> into, ulong value)
    {
        while (value >= 0x80)
        {
            into.Add((byte)(value | 0x80));
            value >>= 7;
        }

        into.Add((byte)value);
    }

    private static bool Get(ReadOnlySpan<byte> p, ref int pos, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift < 70 && pos < p.Length; shift += 7)
        {
            byte b = p[pos++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
