using System.Globalization;
using System.Text.RegularExpressions;

namespace PtReplay.Traces.Import;

/// <summary>
/// What the importer needs from an LTTng-UST trace's TSDL metadata: byte order, domain, the clock (frequency and
/// offset from the Unix epoch), the packet header and packet context layouts, each stream's event context and
/// each event's payload fields. Only the TSDL LTTng writes is understood (top-level <c>trace</c>, <c>env</c>,
/// <c>clock</c>, <c>stream</c> and <c>event</c> blocks, integer typealiases, named structs).
/// <para>Invariants: <see cref="ClockFrequency"/> &gt; 0; <see cref="PacketHeader"/> and
/// <see cref="PacketContext"/> map field names to byte offsets and sizes within a packet.</para>
/// </summary>
public sealed partial class LttngTraceMetadata
{
    private LttngTraceMetadata(string path) => Path = path;

    /// <summary>The metadata file (named in errors).</summary>
    public string Path { get; }

    /// <summary>env.domain ("ust" for user-space traces).</summary>
    public string Domain { get; private set; } = "";

    /// <summary>clock.freq in Hz.</summary>
    public ulong ClockFrequency { get; private set; } = 1_000_000_000;

    /// <summary>clock.offset_s: seconds from the Unix epoch to the clock's zero.</summary>
    public long ClockOffsetSeconds { get; private set; }

    /// <summary>clock.offset: cycles added to <see cref="ClockOffsetSeconds"/>.</summary>
    public long ClockOffsetCycles { get; private set; }

    /// <summary>Byte offset and size of each packet header field (magic, uuid, stream_id, stream_instance_id).</summary>
    public IReadOnlyDictionary<string, (int Offset, int Bytes)> PacketHeader { get; private set; } = new Dictionary<string, (int, int)>();

    /// <summary>Byte offset (from the packet's start) and size of each packet context field.</summary>
    public IReadOnlyDictionary<string, (int Offset, int Bytes)> PacketContext { get; private set; } = new Dictionary<string, (int, int)>();

    /// <summary>Stream id to its event context fields (empty list: no event context).</summary>
    public IReadOnlyDictionary<uint, IReadOnlyList<CtfField>> StreamContexts { get; private set; } = new Dictionary<uint, IReadOnlyList<CtfField>>();

    /// <summary>Every event the metadata declares: name and payload fields (one entry per stream it is declared in).</summary>
    public IReadOnlyList<(string Name, IReadOnlyList<CtfField> Fields)> Events { get; private set; } = [];

    /// <summary>
    /// ns since the Unix epoch of clock value <paramref name="cycles"/>: offset_s + (offset + cycles) / freq,
    /// what babeltrace2 prints with --clock-seconds.
    /// </summary>
    public long ToEpochNs(ulong cycles)
    {
        const long NsPerSecond = 1_000_000_000;
        if (ClockFrequency == NsPerSecond)
        {
            return (ClockOffsetSeconds * NsPerSecond) + ClockOffsetCycles + (long)cycles;
        }

        Int128 total = (Int128)ClockOffsetCycles + cycles;
        return (ClockOffsetSeconds * NsPerSecond) + (long)(total * NsPerSecond / ClockFrequency);
    }

    /// <summary>Reads and parses the metadata file <paramref name="path"/>; throws <see cref="LttngImportException"/> when it is damaged or not LTTng's.</summary>
    public static LttngTraceMetadata Read(string path) => Parse(CtfMetadataText.Read(path), path);

    /// <summary>Parses TSDL <paramref name="text"/>; <paramref name="path"/> names it in errors.</summary>
    public static LttngTraceMetadata Parse(string text, string path)
    {
        ArgumentNullException.ThrowIfNull(text);
        var m = new LttngTraceMetadata(path);
        var aliases = new Dictionary<string, CtfField>(StringComparer.Ordinal);
        foreach (Match a in TypeAliasPattern().Matches(text))
        {
            aliases[a.Groups[2].Value.Trim()] = Integer(a.Groups[1].Value, "", 1) ?? new CtfField("", false, 0, 0, false, 1);
        }

        var namedStructs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match s in NamedStructPattern().Matches(text))
        {
            namedStructs[s.Groups[1].Value] = Body(text, s.Index + s.Length - 1, m);
        }

        bool sawTrace = false, sawClock = false;
        var streams = new Dictionary<uint, IReadOnlyList<CtfField>>();
        var events = new List<(string, IReadOnlyList<CtfField>)>();
        foreach (Match block in BlockPattern().Matches(text))
        {
            string body = Body(text, block.Index + block.Length - 1, m);
            switch (block.Groups[1].Value)
            {
                case "trace":
                    sawTrace = true;
                    if (Property(body, "byte_order") is { } order && order != "le")
                    {
                        throw m.Bad($"byte_order = {order}: only little-endian traces are read");
                    }

                    string header = StructAfter(body, "packet.header", namedStructs, m)
                        ?? throw m.Bad("the trace block has no packet.header");
                    m.PacketHeader = ByteLayout(Fields(header, aliases), "packet.header", m);
                    break;
                case "env":
                    m.Domain = Property(body, "domain")?.Trim('"') ?? "";
                    break;
                case "clock" when !sawClock:
                    sawClock = true;
                    m.ClockFrequency = Property(body, "freq") is { } f ? ParseUnsigned(f, "clock.freq", m) : 1_000_000_000;
                    m.ClockOffsetSeconds = Property(body, "offset_s") is { } os ? ParseSigned(os, "clock.offset_s", m) : 0;
                    m.ClockOffsetCycles = Property(body, "offset") is { } oc ? ParseSigned(oc, "clock.offset", m) : 0;
                    if (m.ClockFrequency == 0)
                    {
                        throw m.Bad("clock.freq = 0");
                    }

                    break;
                case "stream":
                    uint id = Property(body, "id") is { } sid ? (uint)ParseUnsigned(sid, "stream.id", m) : 0;
                    if (m.PacketContext.Count == 0 && StructAfter(body, "packet.context", namedStructs, m) is { } context)
                    {
                        // The packet context follows the header, aligned (LTTng: 8-byte fields after a 32-byte header).
                        int start = m.PacketHeader.Count == 0 ? 0 : m.PacketHeader.Values.Max(f => f.Offset + f.Bytes);
                        m.PacketContext = ByteLayout(Fields(context, aliases), "packet.context", m, start);
                    }

                    streams[id] = StructAfter(body, "event.context", namedStructs, m) is { } eventContext ? Fields(eventContext, aliases) : [];
                    break;
                case "event":
                    string name = Property(body, "name")?.Trim('"') ?? throw m.Bad("an event block without a name");
                    string? fields = StructAfter(body, "fields", namedStructs, m);
                    events.Add((name, fields is null ? [] : Fields(fields, aliases)));
                    break;
            }
        }

        if (!sawTrace || !sawClock)
        {
            throw m.Bad($"no {(sawTrace ? "clock" : "trace")} block (not CTF metadata LTTng wrote)");
        }

        m.StreamContexts = streams;
        m.Events = events;
        return m;
    }

    /// <summary>
    /// The fields of a struct body: one declaration per ';'. Integers come inline or through a typealias; an
    /// array's count must be a number. Anything else is kept as a non-integer field.
    /// </summary>
    private static List<CtfField> Fields(string body, Dictionary<string, CtfField> aliases)
    {
        var fields = new List<CtfField>();
        int depth = 0, start = 0;
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c == '{')
            {
                depth++;
            }
            else if (c == '}')
            {
                depth--;
            }
            else if (c == ';' && depth == 0)
            {
                string decl = body[start..i].Trim();
                start = i + 1;
                if (decl.Length > 0)
                {
                    fields.Add(Field(decl, aliases));
                }
            }
        }

        return fields;
    }

    private static CtfField Field(string decl, Dictionary<string, CtfField> aliases)
    {
        Match named = DeclaratorPattern().Match(decl);
        if (!named.Success)
        {
            return new CtfField(decl, false, 0, 0, false, 1);
        }

        string name = named.Groups[1].Value;
        int count = 1;
        if (named.Groups[2].Success && !int.TryParse(named.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out count))
        {
            return new CtfField(name, false, 0, 0, false, 1);   // a sequence (length from another field)
        }

        string type = decl[..named.Index].Trim();
        if (type.StartsWith("integer", StringComparison.Ordinal) && type.IndexOf('{') is int open and >= 0 && type.LastIndexOf('}') is int close && close > open)
        {
            return Integer(type[(open + 1)..close], name, count) ?? new CtfField(name, false, 0, 0, false, count);
        }

        return aliases.TryGetValue(type, out CtfField alias) && alias.IsInteger
            ? alias with { Name = name, Count = count }
            : new CtfField(name, false, 0, 0, false, count);
    }

    /// <summary>An integer from the attributes inside "integer { ... }"; null when size or align is missing or not a number.</summary>
    private static CtfField? Integer(string attributes, string name, int count)
    {
        string? size = Property(attributes, "size"), align = Property(attributes, "align"), signed = Property(attributes, "signed");
        if (!int.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out int sizeBits) || sizeBits is <= 0 or > 64
            || !int.TryParse(align ?? "1", NumberStyles.None, CultureInfo.InvariantCulture, out int alignBits) || alignBits <= 0)
        {
            return null;
        }

        bool isSigned = signed is "1" or "true" or "TRUE";
        return new CtfField(name, true, sizeBits, alignBits, isSigned, count);
    }

    /// <summary>Byte offsets of byte-sized, byte-aligned integer fields laid out from <paramref name="start"/> on.</summary>
    private static Dictionary<string, (int Offset, int Bytes)> ByteLayout(List<CtfField> fields, string what, LttngTraceMetadata m, int start = 0)
    {
        var layout = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        int offset = start;
        foreach (CtfField f in fields)
        {
            if (!f.IsInteger || f.SizeBits % 8 != 0 || f.AlignBits % 8 != 0)
            {
                throw m.Bad($"{what}: field {f} is not a whole-byte integer (not the layout LTTng writes)");
            }

            int align = f.AlignBits / 8;
            offset = (offset + align - 1) / align * align;
            layout[f.Name] = (offset, f.TotalBits / 8);
            offset += f.TotalBits / 8;
        }

        return layout;
    }

    /// <summary>The body of "NAME := struct { ... };" or "NAME := struct TAG;" inside <paramref name="body"/>, or null.</summary>
    private static string? StructAfter(string body, string name, Dictionary<string, string> namedStructs, LttngTraceMetadata m)
    {
        Match s = Regex.Match(body, Regex.Escape(name) + @"\s*:=\s*struct\s*(\w*)\s*(\{)?", RegexOptions.CultureInvariant);
        if (!s.Success)
        {
            return null;
        }

        if (s.Groups[2].Success)
        {
            return Body(body, s.Groups[2].Index, m);
        }

        return namedStructs.TryGetValue(s.Groups[1].Value, out string? named)
            ? named
            : throw m.Bad($"{name} refers to struct {s.Groups[1].Value}, which is not declared");
    }

    /// <summary>The text between the '{' at <paramref name="open"/> and its matching '}'.</summary>
    private static string Body(string text, int open, LttngTraceMetadata m)
    {
        int depth = 0;
        for (int i = open; i < text.Length; i++)
        {
            if (text[i] == '{')
            {
                depth++;
            }
            else if (text[i] == '}' && --depth == 0)
            {
                return text[(open + 1)..i];
            }
        }

        throw m.Bad($"a '{{' at character {open} is never closed (metadata cut short?)");
    }

    /// <summary>The value of "key = value;" at the top level of <paramref name="body"/> (nested blocks skipped), or null.</summary>
    private static string? Property(string body, string key)
    {
        int depth = 0;
        for (int i = 0; i < body.Length; i++)
        {
            char c = body[i];
            if (c == '{')
            {
                depth++;
                continue;
            }

            if (c == '}')
            {
                depth--;
                continue;
            }

            if (depth != 0 || !body.AsSpan(i).StartsWith(key, StringComparison.Ordinal)
                || (i > 0 && (char.IsAsciiLetterOrDigit(body[i - 1]) || body[i - 1] is '_' or '.')))
            {
                continue;
            }

            int j = i + key.Length;
            while (j < body.Length && body[j] is ' ' or '\t')
            {
                j++;
            }

            if (j >= body.Length || body[j] != '=')
            {
                continue;
            }

            int end = body.IndexOf(';', j);
            if (end < 0)
            {
                return null;
            }

            return body[(j + 1)..end].Trim();
        }

        return null;
    }

    private static ulong ParseUnsigned(string value, string what, LttngTraceMetadata m) =>
        ulong.TryParse(value.TrimEnd('U', 'L', 'u', 'l'), NumberStyles.None, CultureInfo.InvariantCulture, out ulong v)
            ? v : throw m.Bad($"{what} = {value} is not a number");

    private static long ParseSigned(string value, string what, LttngTraceMetadata m) =>
        long.TryParse(value.TrimEnd('U', 'L', 'u', 'l'), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)
            ? v : throw m.Bad($"{what} = {value} is not a number");

    /// <summary>An error naming the metadata file.</summary>
    public LttngImportException Bad(string what) => new($"{Path}: {what}");

    [GeneratedRegex(@"typealias\s+integer\s*\{([^}]*)\}\s*:=\s*([^;]+);", RegexOptions.CultureInvariant)]
    private static partial Regex TypeAliasPattern();

    [GeneratedRegex(@"(?m)^\s*struct\s+(\w+)\s*\{", RegexOptions.CultureInvariant)]
    private static partial Regex NamedStructPattern();

    [GeneratedRegex(@"(?m)^\s*(trace|env|clock|stream|event)\s*\{", RegexOptions.CultureInvariant)]
    private static partial Regex BlockPattern();

    [GeneratedRegex(@"(\w+)\s*(?:\[\s*(\w+)\s*\])?\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex DeclaratorPattern();
}
