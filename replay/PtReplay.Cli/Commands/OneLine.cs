using System.Text;

namespace PtReplay.Cli.Commands;

/// <summary>
/// Text from a recording (a command line, a path) shown on one terminal line: control characters, such as the newlines of
/// a <c>python3 -c</c> script, are written as escapes (<c>\n</c>, <c>\t</c>, <c>\xNN</c>), so a tree or a table stays aligned.
/// </summary>
internal static class OneLine
{
    /// <summary>
    /// <see cref="Of(string)"/> cut to at most <paramref name="maxChars"/> characters (a linker's command line runs to
    /// thousands): the cut ends with "…" and the number of characters left out, which `info` shows whole.
    /// </summary>
    public static string Shortened(string text, int maxChars)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChars, 16);
        string line = Of(text);
        if (line.Length <= maxChars)
        {
            return line;
        }

        string tail = string.Create(System.Globalization.CultureInfo.InvariantCulture, $" … ({line.Length - maxChars:N0} more characters)");
        return string.Concat(line.AsSpan(0, maxChars), tail);
    }

    /// <summary><paramref name="text"/> with every control character escaped and backslashes left as they are.</summary>
    public static string Of(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Any(char.IsControl))
        {
            return text;
        }

        var sb = new StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            _ = c switch
            {
                '\n' => sb.Append("\\n"),
                '\t' => sb.Append("\\t"),
                '\r' => sb.Append("\\r"),
                _ when char.IsControl(c) => sb.Append("\\x").Append(((int)c).ToString("x2", System.Globalization.CultureInfo.InvariantCulture)),
                _ => sb.Append(c),
            };
        }

        return sb.ToString();
    }
}
