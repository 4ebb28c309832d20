using System.Globalization;
using PtReplay.Traces.Stacks;

namespace PtReplay.Traces.Symbols;

/// <summary>Where a <see cref="Symbolizer"/> looks.</summary>
public sealed record SymbolizerOptions
{
    /// <summary>The on-disk cache folder (<see cref="SymbolCache"/>); null: no disk cache.</summary>
    public string? CacheDirectory { get; init; } = SymbolCache.DefaultDirectory();

    /// <summary>Root of the separate debug files named by build id (<c>ROOT/.build-id/xx/yyyy.debug</c>).</summary>
    public string DebugRoot { get; init; } = "/usr/lib/debug";
}

/// <summary>
/// Resolves recorded return addresses to function names and, where DWARF line information exists, source file and line,
/// at report time from the recorded module map: an address becomes a file offset of the mapped file (the mapping's
/// offset), then a virtual address of that file (its PT_LOAD program headers: position-independent executables and shared
/// objects alike), then the function whose symbol covers it (.symtab, else .dynsym, else the .symtab of the separate debug
/// file <c>/usr/lib/debug/.build-id/xx/yyyy.debug</c>) and the line libdw finds (<see cref="DwarfLines"/>).
/// <para>Invariants: a name is never guessed: when the file is missing or unreadable, its build id differs from the
/// recorded one, or no symbol covers the address, the frame is "?" with the reason (<see cref="SymbolizedFrame.Problem"/>).
/// Each image is read once per instance (its symbols sorted once), each address resolved once; resolved frames of images
/// with a build id are kept in the <see cref="SymbolCache"/> and read back by later runs without opening the image.
/// Return addresses are looked up one byte back (the call instruction), so the line is the call's, not the next one's.</para>
/// </summary>
public sealed class Symbolizer : IDisposable
{
    private readonly SymbolizerOptions _options;
    private readonly Dictionary<string, ModuleState> _modules = new(StringComparer.Ordinal);

    /// <summary>Creates a symboliser.</summary>
    public Symbolizer(SymbolizerOptions? options = null) => _options = options ?? new SymbolizerOptions();

    /// <summary>Resolves <paramref name="address"/>, recorded in <paramref name="mapping"/> (null: no mapping held it).</summary>
    /// <param name="returnAddress">True for a return address (looked up one byte back), false for a function's own address.</param>
    public SymbolizedFrame Resolve(ModuleMapping? mapping, ulong address, bool returnAddress = true)
    {
        if (mapping is null || !mapping.Contains(address))
        {
            return new SymbolizedFrame(address, SymbolizedFrame.Unknown, null, null, 0, "no recorded executable mapping holds the address");
        }

        ModuleState m = ModuleOf(mapping);
        ulong offset = mapping.FileOffsetOf(address) - (returnAddress && mapping.FileOffsetOf(address) > 0 ? 1UL : 0UL);
        if (m.Resolved.TryGetValue(offset, out SymbolizedFrame? known))
        {
            return known with { Address = address };
        }

        SymbolizedFrame frame = Lookup(m, mapping, address, offset);
        m.Resolved[offset] = frame;
        if (frame.Resolved && m.CacheKey is not null)
        {
            m.NewEntries.Add((offset, frame.Function, frame.File, frame.Line));
        }

        return frame;
    }

    /// <summary>The frames of stack <paramref name="id"/> of <paramref name="table"/>, innermost first.</summary>
    public IReadOnlyList<SymbolizedFrame> ResolveStack(StackTable table, int id)
    {
        ArgumentNullException.ThrowIfNull(table);
        IReadOnlyList<ulong> frames = table.Frames(id);
        var result = new SymbolizedFrame[frames.Count];
        for (int i = 0; i < frames.Count; i++)
        {
            result[i] = Resolve(table.ModuleOf(frames[i]), frames[i]);
        }

        return result;
    }

    /// <summary>Writes the frames resolved since the last flush to the disk cache.</summary>
    public void Flush()
    {
        foreach (ModuleState m in _modules.Values)
        {
            if (m.CacheKey is not null && m.NewEntries.Count > 0)
            {
                SymbolCache.Append(_options.CacheDirectory, m.CacheKey, m.NewEntries);
                m.NewEntries.Clear();
            }
        }
    }

    /// <summary>Flushes the cache and closes the images' debug information.</summary>
    public void Dispose()
    {
        Flush();
        foreach (ModuleState m in _modules.Values)
        {
            m.Lines?.Dispose();
        }

        _modules.Clear();
    }

    private ModuleState ModuleOf(ModuleMapping mapping)
    {
        string key = mapping.BuildId is { } id ? "id:" + id + ":" + mapping.Path : "path:" + mapping.Path;
        if (!_modules.TryGetValue(key, out ModuleState? m))
        {
            string? cacheKey = mapping.BuildId is { Length: >= 2 } b && b.All(char.IsAsciiHexDigitLower) ? b : null;
            m = new ModuleState(cacheKey);
            if (cacheKey is not null)
            {
                foreach ((ulong offset, (string function, string? file, int line)) in SymbolCache.Load(_options.CacheDirectory, cacheKey))
                {
                    m.Resolved[offset] = new SymbolizedFrame(0, function, mapping.Path, file, line, null);
                }
            }

            _modules[key] = m;
        }

        return m;
    }

    private SymbolizedFrame Lookup(ModuleState m, ModuleMapping mapping, ulong address, ulong offset)
    {
        SymbolizedFrame Unresolved(string why) => new(address, SymbolizedFrame.Unknown, mapping.Path, null, 0, why);
        Open(m, mapping);
        if (m.Problem is not null)
        {
            return Unresolved(m.Problem);
        }

        ulong? vaddr = m.Image!.VirtualAddressOf(offset);
        if (vaddr is not { } va)
        {
            return Unresolved(string.Create(CultureInfo.InvariantCulture, $"file offset 0x{offset:x} is in no PT_LOAD segment of {mapping.Path}"));
        }

        if (m.Symbols!.FunctionAt(va) is not { } function)
        {
            return Unresolved(string.Create(CultureInfo.InvariantCulture,
                $"no function symbol covers 0x{va:x} in {mapping.Path}{(m.Symbols.HasSymtab ? "" : " (stripped; no debug file for its build id)")}"));
        }

        m.Lines ??= m.LinesTried ? null : DwarfLines.Open(mapping.Path);
        m.LinesTried = true;
        (string File, int Line)? line = m.Lines?.Lookup(va);
        return new SymbolizedFrame(address, Demangler.Demangle(function.Name), mapping.Path, line?.File, line?.Line ?? 0, null);
    }

    private void Open(ModuleState m, ModuleMapping mapping)
    {
        if (m.Image is not null || m.Problem is not null)
        {
            return;
        }

        if (!File.Exists(mapping.Path))
        {
            m.Problem = $"{mapping.Path} is missing (the recording's file is gone)";
            return;
        }

        try
        {
            m.Image = ElfImage.Read(mapping.Path);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            m.Problem = $"{mapping.Path} cannot be read: {ex.Message}";
            return;
        }

        if (mapping.BuildId is { } recorded && !string.Equals(recorded, m.Image.BuildId, StringComparison.Ordinal))
        {
            m.Problem = $"build id mismatch: recorded {recorded}, {mapping.Path} has {m.Image.BuildId ?? "none"} (the file changed since the recording)";
            m.Image = null;
            return;
        }

        m.Symbols = m.Image;
        if (!m.Image.HasSymtab && m.Image.BuildId is { Length: > 2 } id)
        {
            string debug = Path.Combine(_options.DebugRoot, ".build-id", id[..2], id[2..] + ".debug");
            try
            {
                if (File.Exists(debug) && ElfImage.Read(debug) is { HasSymtab: true } d && d.BuildId == id)
                {
                    m.Symbols = d;
                }
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                // The debug file is optional: .dynsym stands.
            }
        }
    }

    private sealed class ModuleState(string? cacheKey)
    {
        public string? CacheKey { get; } = cacheKey;
        public Dictionary<ulong, SymbolizedFrame> Resolved { get; } = [];
        public List<(ulong Offset, string Function, string? File, int Line)> NewEntries { get; } = [];
        public ElfImage? Image { get; set; }
        public ElfImage? Symbols { get; set; }
        public DwarfLines? Lines { get; set; }
        public bool LinesTried { get; set; }
        public string? Problem { get; set; }
    }
}
