using System.Globalization;

namespace PtReplay.Traces.Import;

/// <summary>
/// Parses glibc's mtrace text (written when a program calls mtrace() with MALLOC_TRACE=file and, since
/// glibc 2.34, LD_PRELOAD=libc_malloc_debug.so.0). Line forms of glibc 2.36 (malloc/mtrace-impl.c):
/// <code>
/// = Start                           tracing began          = End          tracing ended
/// [CALLER ]+ PTR SIZE               allocation (PTR "(nil)" when it failed; SIZE "%#lx", so 0 prints as "0")
/// [CALLER ]- PTR                    free(PTR), PTR non-NULL; also realloc(PTR, 0)
/// [CALLER ]&lt; OLD                    realloc(OLD, SIZE) = NEW, first line ...
/// [CALLER ]&gt; NEW SIZE               ... second line, always right after the first
/// [CALLER ]! OLD SIZE               realloc(OLD, SIZE) failed (NULL), OLD kept
/// CALLER := "@ " FILE ":" ["(" SYM ("+"|"-") HEXOFF ")"] "[0x" HEXOFF "] "   (dladdr found the object)
///         | "@ [0x" HEXADDR "] "                                           (it did not)
/// </code>
/// mtrace does not say which entry point was called: calloc, memalign and friends all print "+"; calloc
/// prints count × size. Threads are not recorded. Blank lines are skipped.
/// </summary>
public static class MtraceParser
{
    /// <summary>Parses the file at <paramref name="path"/> lazily.</summary>
    public static IEnumerable<MtraceRecord> ParseFile(string path)
    {
        using var reader = new StreamReader(path);
        foreach (MtraceRecord r in Parse(reader, path))
        {
            yield return r;
        }
    }

    /// <summary>Parses mtrace text lazily; <paramref name="name"/> names the source in errors.</summary>
    public static IEnumerable<MtraceRecord> Parse(TextReader reader, string name = "<mtrace>")
    {
        ArgumentNullException.ThrowIfNull(reader);
        long lineNumber = 0;
        MtraceRecord? pendingOld = null;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            (string? caller, string op) = SplitCaller(line, name, lineNumber);
            if (op.Length == 0)
            {
                throw new MtraceFormatException(name, lineNumber, line, "no operation after the caller");
            }

            string[] args = op.Length > 2 ? op[2..].Split(' ', StringSplitOptions.RemoveEmptyEntries) : [];
            char code = op[0];
            if (op.Length > 1 && op[1] != ' ')
            {
                throw new MtraceFormatException(name, lineNumber, line, $"expected a space after '{code}'");
            }

            if (pendingOld is { } old && code != '>')
            {
                throw new MtraceFormatException(name, lineNumber, line, $"realloc line '<' at line {old.Line} is not followed by its '>' line");
            }

            switch (code)
            {
                case '=':
                    if (op == "= Start")
                    {
                        yield return new MtraceRecord(MtraceRecordKind.Start, 0, 0, 0, caller, lineNumber);
                    }
                    else if (op == "= End")
                    {
                        yield return new MtraceRecord(MtraceRecordKind.End, 0, 0, 0, caller, lineNumber);
                    }
                    else
                    {
                        throw new MtraceFormatException(name, lineNumber, line, "unknown '=' line (expected \"= Start\" or \"= End\")");
                    }

                    break;
                case '+':
                    Expect(args, 2, name, lineNumber, line);
                    yield return new MtraceRecord(MtraceRecordKind.Allocate, 0, Number(args[1], name, lineNumber, line), Pointer(args[0], name, lineNumber, line), caller, lineNumber);
                    break;
                case '-':
                    Expect(args, 1, name, lineNumber, line);
                    yield return new MtraceRecord(MtraceRecordKind.Free, Pointer(args[0], name, lineNumber, line), 0, 0, caller, lineNumber);
                    break;
                case '!':
                    Expect(args, 2, name, lineNumber, line);
                    yield return new MtraceRecord(MtraceRecordKind.ReallocFailed, Pointer(args[0], name, lineNumber, line), Number(args[1], name, lineNumber, line), 0, caller, lineNumber);
                    break;
                case '<':
                    Expect(args, 1, name, lineNumber, line);
                    pendingOld = new MtraceRecord(MtraceRecordKind.Realloc, Pointer(args[0], name, lineNumber, line), 0, 0, caller, lineNumber);
                    break;
                case '>':
                    Expect(args, 2, name, lineNumber, line);
                    if (pendingOld is not { } first)
                    {
                        throw new MtraceFormatException(name, lineNumber, line, "realloc result line '>' without the '<' line before it");
                    }

                    pendingOld = null;
                    yield return first with { Size = Number(args[1], name, lineNumber, line), Result = Pointer(args[0], name, lineNumber, line) };
                    break;
                default:
                    throw new MtraceFormatException(name, lineNumber, line, $"unknown operation '{code}' (mtrace writes =, +, -, <, >, !)");
            }
        }

        if (pendingOld is { } dangling)
        {
            throw new MtraceFormatException(name, dangling.Line, "< ...", "the file ends between a realloc's '<' and '>' lines");
        }
    }

    /// <summary>Splits "@ CALLER OP..." into the caller (null when absent) and the operation text.</summary>
    private static (string? Caller, string Op) SplitCaller(string line, string name, long lineNumber)
    {
        if (!line.StartsWith("@ ", StringComparison.Ordinal))
        {
            return (null, line);
        }

        // The caller ends with "[0x...]" then a space; the operation part contains no ']' at all.
        int close = line.LastIndexOf("] ", StringComparison.Ordinal);
        if (close < 0)
        {
            throw new MtraceFormatException(name, lineNumber, line, "caller field \"@ ...[0x...]\" is not closed by \"] \"");
        }

        return (line[2..(close + 1)], line[(close + 2)..]);
    }

    private static void Expect(string[] args, int count, string name, long lineNumber, string line)
    {
        if (args.Length != count)
        {
            throw new MtraceFormatException(name, lineNumber, line, $"expected {count} value(s) after the operation, found {args.Length}");
        }
    }

    /// <summary>A %p value: "0x..." or "(nil)".</summary>
    private static ulong Pointer(string s, string name, long lineNumber, string line) =>
        s == "(nil)" ? 0 : Number(s, name, lineNumber, line);

    /// <summary>A %p or %#lx value: "0x..." hex, or "0".</summary>
    private static ulong Number(string s, string name, long lineNumber, string line)
    {
        if (s == "0")
        {
            return 0;
        }

        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong v))
        {
            return v;
        }

        throw new MtraceFormatException(name, lineNumber, line, $"\"{s}\" is not a hexadecimal number (0x...) or (nil)");
    }
}
