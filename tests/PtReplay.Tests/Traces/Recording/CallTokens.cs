using System.Globalization;
using PtReplay.Traces;

namespace PtReplay.Tests.Traces.Recording;

/// <summary>
/// A malloc-family call reduced to what glibc's mtrace log can show: allocate (+ size), free (-),
/// realloc (&lt;&gt; size), failed realloc (! size). Both a recording and an mtrace log become such
/// sequences, so they can be compared.
/// </summary>
internal readonly record struct CallToken(char Op, ulong Size)
{
    public bool IsFree => Op == '-';

    public override string ToString() => IsFree ? "-" : Op + Size.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// What mtrace would log for each event: free(NULL) nothing, realloc(NULL, n) "+", realloc(p, 0)
    /// "-", calloc its total size, reallocarray as the realloc glibc turns it into.
    /// </summary>
    public static List<CallToken> FromEvents(IEnumerable<AllocEvent> events)
    {
        var tokens = new List<CallToken>();
        foreach (AllocEvent e in events)
        {
            switch (e.Kind)
            {
                case EventKind.Free:
                    if (e.Ptr != 0)
                    {
                        tokens.Add(new CallToken('-', 0));
                    }

                    break;
                case EventKind.Realloc or EventKind.ReallocArray:
                    ulong bytes = e.RequestedBytes;
                    tokens.Add(e.Ptr == 0 ? new CallToken('+', bytes)
                        : bytes == 0 ? new CallToken('-', 0)
                        : e.Result == 0 ? new CallToken('!', bytes)
                        : new CallToken('<', bytes));
                    break;
                default:
                    if (e.Kind.Allocates())
                    {
                        tokens.Add(new CallToken('+', e.RequestedBytes));
                    }

                    break;
            }
        }

        return tokens;
    }

    /// <summary>Parses glibc's mtrace text: "@ caller + 0xPTR 0xSIZE", "- 0xPTR", "&lt; 0xOLD" then "&gt; 0xNEW 0xSIZE", "! 0xOLD 0xSIZE".</summary>
    public static List<CallToken> FromMtrace(string path)
    {
        var tokens = new List<CallToken>();
        foreach (string line in File.ReadLines(path))
        {
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int i = Array.FindIndex(parts, p => p is "+" or "-" or "<" or ">" or "!");
            if (i < 0 || parts[0] == "=")
            {
                continue;
            }

            switch (parts[i])
            {
                case "+":
                    tokens.Add(new CallToken('+', Hex(parts[i + 2])));
                    break;
                case "-":
                    tokens.Add(new CallToken('-', 0));
                    break;
                case ">":
                    tokens.Add(new CallToken('<', Hex(parts[i + 2])));
                    break;
                case "!":
                    tokens.Add(new CallToken('!', Hex(parts[i + 2])));
                    break;
                default: // "<": the old pointer of a realloc; its ">" line carries the call
                    break;
            }
        }

        return tokens;
    }

    private static ulong Hex(string s) => ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
