using System.Globalization;
using System.Text;

namespace PtReplay.Traces.Symbols;

/// <summary>
/// The on-disk cache of resolved frames, one file per build id (<c>DIR/&lt;build-id&gt;.tsv</c>, one line per file
/// offset: <c>offset-hex TAB function TAB file TAB line</c>). A build id names one exact binary, so an entry never goes
/// stale; images without a build id are not cached. Reading or writing the cache never fails a run: an unreadable file is
/// a miss, an unwritable directory is skipped.
/// <para>Location: <c>PTREPLAY_SYMBOL_CACHE</c> when set (<c>off</c> disables the cache), else
/// <c>$XDG_CACHE_HOME/ptreplay/symbols</c>, else <c>~/.cache/ptreplay/symbols</c>.</para>
/// </summary>
public static class SymbolCache
{
    /// <summary>The environment variable that moves (a folder) or disables (<c>off</c>) the cache.</summary>
    public const string EnvironmentVariable = "PTREPLAY_SYMBOL_CACHE";

    /// <summary>The cache folder from the environment, or null when the cache is off or no home folder is known.</summary>
    public static string? DefaultDirectory()
    {
        string? given = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (given is not null)
        {
            return given.Length == 0 || given.Equals("off", StringComparison.OrdinalIgnoreCase) ? null : given;
        }

        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string? home = Environment.GetEnvironmentVariable("HOME");
        string? root = !string.IsNullOrEmpty(xdg) ? xdg : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache") : null;
        return root is null ? null : Path.Combine(root, "ptreplay", "symbols");
    }

    /// <summary>The entries cached for <paramref name="buildId"/> (empty on any miss or unreadable file).</summary>
    internal static Dictionary<ulong, (string Function, string? File, int Line)> Load(string? directory, string buildId)
    {
        var entries = new Dictionary<ulong, (string, string?, int)>();
        if (directory is null)
        {
            return entries;
        }

        try
        {
            string path = FileOf(directory, buildId);
            if (!File.Exists(path))
            {
                return entries;
            }

            foreach (string line in File.ReadLines(path))
            {
                string[] f = line.Split('\t');
                if (f.Length == 4 && ulong.TryParse(f[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong offset) &&
                    int.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out int lineNumber) && f[1].Length > 0)
                {
                    entries[offset] = (f[1], f[2].Length == 0 ? null : f[2], lineNumber);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            entries.Clear();
        }

        return entries;
    }

    /// <summary>Appends <paramref name="entries"/> to <paramref name="buildId"/>'s file; skipped silently when it cannot be written.</summary>
    internal static void Append(string? directory, string buildId, IEnumerable<(ulong Offset, string Function, string? File, int Line)> entries)
    {
        if (directory is null)
        {
            return;
        }

        var text = new StringBuilder();
        foreach ((ulong offset, string function, string? file, int line) in entries)
        {
            if (function.Contains('\t', StringComparison.Ordinal) || function.Contains('\n', StringComparison.Ordinal) ||
                (file is not null && (file.Contains('\t', StringComparison.Ordinal) || file.Contains('\n', StringComparison.Ordinal))))
            {
                continue;
            }

            text.Append(CultureInfo.InvariantCulture, $"{offset:x}\t{function}\t{file}\t{line}\n");
        }

        if (text.Length == 0)
        {
            return;
        }

        try
        {
            Directory.CreateDirectory(directory);
            File.AppendAllText(FileOf(directory, buildId), text.ToString());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A cache that cannot be written is no cache: the next run resolves again.
        }
    }

    private static string FileOf(string directory, string buildId) => Path.Combine(directory, buildId + ".tsv");
}
