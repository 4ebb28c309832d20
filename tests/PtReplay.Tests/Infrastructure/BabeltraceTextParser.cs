using System.Globalization;

using PtReplay.Traces.Import;

namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// Parses the text babeltrace2's pretty-printer (sink.text.pretty, the default output of
/// <c>babeltrace2 TRACE_DIR</c>) writes, keeping the lttng_ust_libc events and counting the others.
/// One event per line:
/// <code>
/// [TIMESTAMP] [(+DELTA)] [HOST] PROVIDER:EVENT: { packet ctx }, { event ctx }, { payload }
///
/// [1795664231.211054119] vm lttng_ust_libc:malloc: { cpu_id = 0 }, { vtid = 7055, vpid = 7055 }, { size = 24, ptr = 0x5590FF5C6B30 }
/// </code>
/// TIMESTAMP is one of <c>SEC.NS</c> (<c>--clock-seconds</c>, what the importer asks for: ns since the Unix
/// epoch), <c>HH:MM:SS.NS</c> (the default; a step back of more than 12 hours is taken as midnight),
/// <c>YYYY-MM-DD HH:MM:SS.NS</c> (<c>--clock-date</c>) or a plain cycle count (<c>--clock-cycles</c>; LTTng-UST's
/// clock counts ns). The groups in braces may carry scope names (<c>--names=scope</c>: <c>event.fields = { ... }</c>).
/// With <c>--names=all</c> a line reads <c>timestamp = TS, ..., name = EVENT, stream.event.context = { ... }, event.fields = { ... }</c>.
/// The payload is the last group; vtid, vpid and procname are read from the groups before it.
/// </summary>
public sealed class BabeltraceTextParser
{
    /// <summary>Provider prefix of the libc wrapper's events.</summary>
    public const string Provider = "lttng_ust_libc:";

    private const string HeaderNamesPrefix = "timestamp = ";
    private const long NsPerSecond = 1_000_000_000;
    private const long NsPerDay = 86_400 * NsPerSecond;

    private readonly string _name;
    private readonly List<(int Group, string Key, string Value)> _pairs = [];
    private long _lastTimeOfDay = -1;
    private long _dayOffset;

    /// <param name="name">Names the source in error messages (a file, or the trace folder babeltrace2 read).</param>
    public BabeltraceTextParser(string name = "<babeltrace2>") => _name = name;

    /// <summary>Lines read so far.</summary>
    public long Lines { get; private set; }

    /// <summary>Events of other providers (or unknown lttng_ust_libc events) skipped so far.</summary>
    public long OtherEvents { get; private set; }

    /// <summary>Parses babeltrace2 text lazily, yielding the lttng_ust_libc events in file order.</summary>
    public IEnumerable<LttngLibcRecord> Parse(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            Lines++;
            if (line.Length == 0)
            {
                continue;
            }

            if (ParseLine(line, Lines) is { } record)
            {
                yield return record;
            }
            else
            {
                OtherEvents++;
            }
        }
    }

    /// <summary>Parses one event line; null for an event that is not an lttng_ust_libc call.</summary>
    public LttngLibcRecord? ParseLine(string line, long lineNumber)
    {
        ArgumentNullException.ThrowIfNull(line);
        long timestamp;
        int fields, nameStart, nameEnd;
        if (line.StartsWith(HeaderNamesPrefix, StringComparison.Ordinal))
        {
            // --names=all (or header): "timestamp = TS, [delta = D, ]... name = EVENT, SCOPE = { ... }, ..."
            int tsEnd = line.IndexOf(',', HeaderNamesPrefix.Length);
            nameStart = line.IndexOf(", name = ", StringComparison.Ordinal);
            if (tsEnd < 0 || nameStart < 0)
            {
                throw Bad(line, lineNumber, "\"timestamp = ..., name = ...\" expected");
            }

            timestamp = ParseTimestamp(line.AsSpan(HeaderNamesPrefix.Length, tsEnd - HeaderNamesPrefix.Length), line, lineNumber);
            nameStart += ", name = ".Length;
            nameEnd = line.IndexOf(',', nameStart);
            nameEnd = nameEnd < 0 ? line.Length : nameEnd;
            fields = line.IndexOf('{', nameEnd) >= 0 ? nameEnd : -1;
        }
        else
        {
            if (line[0] != '[')
            {
                throw Bad(line, lineNumber, "an event line starts with \"[TIMESTAMP]\" (or \"timestamp = \")");
            }

            int close = line.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw Bad(line, lineNumber, "the timestamp is not closed by ']'");
            }

            timestamp = ParseTimestamp(line.AsSpan(1, close - 1), line, lineNumber);

            // The event name is the last word before the first ": {" (or the line's final ':' for an event without fields).
            fields = line.IndexOf(": {", close, StringComparison.Ordinal);
            nameEnd = fields >= 0 ? fields : line.TrimEnd().EndsWith(':') ? line.TrimEnd().Length - 1 : -1;
            if (nameEnd < 0)
            {
                throw Bad(line, lineNumber, "no \"PROVIDER:EVENT:\" name after the timestamp");
            }

            nameStart = line.LastIndexOf(' ', nameEnd - 1) + 1;
        }

        ReadOnlySpan<char> name = line.AsSpan(nameStart, nameEnd - nameStart);
        LttngLibcEventKind kind = KindOf(name);
        if (kind == LttngLibcEventKind.Other)
        {
            return null;
        }

        if (fields < 0)
        {
            throw Bad(line, lineNumber, "a libc event without fields");
        }

        int groups = SplitPairs(line, fields + 1, lineNumber);
        int payload = groups - 1;
        int vtid = -1, vpid = -1;
        string? procname = null;
        ulong size = 0, count = 0, ptr = 0, result = 0, alignment = 0;
        int status = 0;
        bool hasSize = false, hasPtr = false, hasResult = false, hasCount = false, hasAlignment = false, hasStatus = false;
        foreach ((int group, string key, string value) in _pairs)
        {
            if (group != payload)
            {
                switch (key)
                {
                    case "vtid":
                        vtid = (int)Signed(value, line, lineNumber, key);
                        break;
                    case "vpid":
                        vpid = (int)Signed(value, line, lineNumber, key);
                        break;
                    case "procname":
                        procname = value.Trim('"');
                        break;
                }

                continue;
            }

            switch (key)
            {
                case "size":
                    size = Unsigned(value, line, lineNumber, key);
                    hasSize = true;
                    break;
                case "nmemb":
                    count = Unsigned(value, line, lineNumber, key);
                    hasCount = true;
                    break;
                case "ptr" when kind == LttngLibcEventKind.Free:
                case "in_ptr":
                    ptr = Unsigned(value, line, lineNumber, key);
                    hasPtr = true;
                    break;
                case "ptr":
                case "out_ptr":
                    result = Unsigned(value, line, lineNumber, key);
                    hasResult = true;
                    break;
                case "alignment":
                    alignment = Unsigned(value, line, lineNumber, key);
                    hasAlignment = true;
                    break;
                case "result":
                    status = (int)Signed(value, line, lineNumber, key);
                    hasStatus = true;
                    break;
            }
        }

        bool complete = kind switch
        {
            LttngLibcEventKind.Malloc => hasSize && hasResult,
            LttngLibcEventKind.Calloc => hasCount && hasSize && hasResult,
            LttngLibcEventKind.Realloc => hasPtr && hasSize && hasResult,
            LttngLibcEventKind.Free => hasPtr,
            LttngLibcEventKind.Memalign => hasAlignment && hasSize && hasResult,
            _ => hasResult && hasAlignment && hasSize && hasStatus,
        };
        if (!complete)
        {
            throw Bad(line, lineNumber, $"the {name} event lacks a payload field (expected {ExpectedFields(kind)})");
        }

        return new LttngLibcRecord(kind, timestamp, vtid, vpid, size, count, ptr, result, alignment, status, lineNumber) { Procname = procname };
    }

    /// <summary>The libc event an event name (e.g. "lttng_ust_libc:malloc") stands for.</summary>
    public static LttngLibcEventKind KindOf(ReadOnlySpan<char> eventName)
    {
        if (!eventName.StartsWith(Provider, StringComparison.Ordinal))
        {
            return LttngLibcEventKind.Other;
        }

        return eventName[Provider.Length..] switch
        {
            "malloc" => LttngLibcEventKind.Malloc,
            "calloc" => LttngLibcEventKind.Calloc,
            "realloc" => LttngLibcEventKind.Realloc,
            "free" => LttngLibcEventKind.Free,
            "memalign" => LttngLibcEventKind.Memalign,
            "posix_memalign" => LttngLibcEventKind.PosixMemalign,
            _ => LttngLibcEventKind.Other,
        };
    }

    private static string ExpectedFields(LttngLibcEventKind kind) => kind switch
    {
        LttngLibcEventKind.Malloc => "size, ptr",
        LttngLibcEventKind.Calloc => "nmemb, size, ptr",
        LttngLibcEventKind.Realloc => "in_ptr, size, ptr",
        LttngLibcEventKind.Free => "ptr",
        LttngLibcEventKind.Memalign => "alignment, size, ptr",
        _ => "out_ptr, alignment, size, result",
    };

    /// <summary>
    /// Collects the "key = value" pairs directly inside each top-level brace group of <paramref name="line"/>
    /// from <paramref name="start"/> on into <see cref="_pairs"/>; returns the number of groups. Nested
    /// structures, arrays, enums and quoted strings are stepped over.
    /// </summary>
    private int SplitPairs(string line, int start, long lineNumber)
    {
        _pairs.Clear();
        int groups = 0, depth = 0, nest = 0, i = start;
        while (i < line.Length)
        {
            char c = line[i];
            switch (c)
            {
                case '"':
                    i = SkipString(line, i, lineNumber);
                    continue;
                case '{':
                    depth++;
                    if (depth == 1)
                    {
                        groups++;
                    }

                    i++;
                    continue;
                case '}':
                    depth--;
                    if (depth < 0)
                    {
                        throw Bad(line, lineNumber, "unbalanced '}'");
                    }

                    i++;
                    continue;
                case '[' or '(':
                    nest++;
                    i++;
                    continue;
                case ']' or ')':
                    nest--;
                    i++;
                    continue;
            }

            if (depth == 1 && nest == 0 && (char.IsAsciiLetter(c) || c == '_' || c == '$'))
            {
                int keyStart = i;
                while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or '$' or ':' or '.'))
                {
                    i++;
                }

                string key = line[keyStart..i];
                if (i + 2 < line.Length && line[i] == ' ' && line[i + 1] == '=' && line[i + 2] == ' ')
                {
                    int valueStart = i + 3;
                    int valueEnd = valueStart;
                    if (valueEnd < line.Length && line[valueEnd] == '"')
                    {
                        valueEnd = SkipString(line, valueEnd, lineNumber);
                    }
                    else
                    {
                        while (valueEnd < line.Length && line[valueEnd] is not (',' or ' ' or '}' or '{' or '[' or '('))
                        {
                            valueEnd++;
                        }
                    }

                    _pairs.Add((groups - 1, key, line[valueStart..valueEnd]));
                    i = valueEnd;
                }

                continue;
            }

            i++;
        }

        if (depth != 0)
        {
            throw Bad(line, lineNumber, "a '{' is not closed (line cut short?)");
        }

        if (groups == 0)
        {
            throw Bad(line, lineNumber, "no \"{ field = value, ... }\" group");
        }

        return groups;
    }

    private int SkipString(string line, int quote, long lineNumber)
    {
        for (int i = quote + 1; i < line.Length; i++)
        {
            if (line[i] == '\\')
            {
                i++;
            }
            else if (line[i] == '"')
            {
                return i + 1;
            }
        }

        throw Bad(line, lineNumber, "a string is not closed by '\"'");
    }

    /// <summary>Nanoseconds from any of the four timestamp forms (see the class comment).</summary>
    private long ParseTimestamp(ReadOnlySpan<char> text, string line, long lineNumber)
    {
        int colon = text.IndexOf(':');
        if (colon < 0)
        {
            int dot = text.IndexOf('.');
            if (dot < 0)
            {
                return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long cycles)
                    ? cycles
                    : throw Bad(line, lineNumber, "the timestamp is not a number of clock cycles");
            }

            if (!long.TryParse(text[..dot], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long seconds))
            {
                throw Bad(line, lineNumber, "the timestamp's seconds are not a number");
            }

            return (seconds * NsPerSecond) + Fraction(text[(dot + 1)..], line, lineNumber);
        }

        // [YYYY-MM-DD ]HH:MM:SS.NNNNNNNNN
        long dateNs = 0;
        int space = text.IndexOf(' ');
        if (space >= 0)
        {
            if (!DateOnly.TryParseExact(text[..space], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out DateOnly date))
            {
                throw Bad(line, lineNumber, "the timestamp's date is not YYYY-MM-DD");
            }

            dateNs = (date.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber) * NsPerDay;
            text = text[(space + 1)..];
        }

        if (text.Length < 8 || text[2] != ':' || text[5] != ':'
            || !int.TryParse(text[..2], NumberStyles.None, CultureInfo.InvariantCulture, out int h)
            || !int.TryParse(text[3..5], NumberStyles.None, CultureInfo.InvariantCulture, out int m)
            || !int.TryParse(text[6..8], NumberStyles.None, CultureInfo.InvariantCulture, out int s))
        {
            throw Bad(line, lineNumber, "the timestamp is not HH:MM:SS.NNNNNNNNN");
        }

        long ns = (((h * 60L) + m) * 60 + s) * NsPerSecond;
        if (text.Length > 8)
        {
            if (text[8] != '.')
            {
                throw Bad(line, lineNumber, "the timestamp is not HH:MM:SS.NNNNNNNNN");
            }

            ns += Fraction(text[9..], line, lineNumber);
        }

        if (space >= 0)
        {
            return dateNs + ns;
        }

        // Time of day only: a step back of more than half a day is the clock passing midnight.
        if (_lastTimeOfDay >= 0 && ns + _dayOffset < _lastTimeOfDay - (NsPerDay / 2))
        {
            _dayOffset += NsPerDay;
        }

        _lastTimeOfDay = ns + _dayOffset;
        return _lastTimeOfDay;
    }

    private long Fraction(ReadOnlySpan<char> digits, string line, long lineNumber)
    {
        if (digits.Length is 0 or > 9 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            throw Bad(line, lineNumber, "the timestamp's fraction is not 1 to 9 digits");
        }

        for (int i = digits.Length; i < 9; i++)
        {
            value *= 10;
        }

        return value;
    }

    private ulong Unsigned(string value, string line, long lineNumber, string key)
    {
        bool ok = value.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v)
            : ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        return ok ? v : throw Bad(line, lineNumber, $"field {key} = \"{value}\" is not an unsigned number");
    }

    private long Signed(string value, string line, long lineNumber, string key)
    {
        if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            return (long)Unsigned(value, line, lineNumber, key);
        }

        return long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw Bad(line, lineNumber, $"field {key} = \"{value}\" is not a number");
    }

    private LttngFormatException Bad(string line, long lineNumber, string what) => new(_name, lineNumber, line, what);
}
