using System.Globalization;
using LibObjectFile.Elf;

namespace PtReplay.Traces.Symbols;

/// <summary>
/// What symbolisation needs of one ELF file, read with LibObjectFile: its GNU build id, its PT_LOAD segments (file offset
/// to virtual address) and its function symbols sorted by address.
/// <para>Invariants: <see cref="Functions"/> is sorted by start address; at one address the global name comes before a
/// weak one and a weak one before a local one (so an alias such as __libc_malloc loses to malloc); a symbol of size 0
/// covers up to the next symbol's start; among equals a name without a leading underscore wins. Symbols come from .symtab when the file has one, else from .dynsym.</para>
/// </summary>
internal sealed class ElfImage
{
    private readonly (ulong Offset, ulong FileSize, ulong Vaddr)[] _loads;
    private readonly ulong[] _starts;
    private readonly ulong[] _ends;
    private readonly string[] _names;

    private ElfImage(string path, string? buildId, (ulong, ulong, ulong)[] loads, List<(ulong Start, ulong Size, int Rank, string Name)> symbols, bool hasSymtab)
    {
        Path = path;
        BuildId = buildId;
        _loads = loads;
        HasSymtab = hasSymtab;
        symbols.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : a.Rank != b.Rank ? a.Rank.CompareTo(b.Rank) : string.CompareOrdinal(a.Name, b.Name));
        var starts = new List<ulong>(symbols.Count);
        var ends = new List<ulong>(symbols.Count);
        var names = new List<string>(symbols.Count);
        for (int i = 0; i < symbols.Count; i++)
        {
            if (i > 0 && symbols[i].Start == symbols[i - 1].Start)
            {
                continue; // an alias: the first (best ranked) name stands
            }

            ulong end = symbols[i].Size > 0 ? symbols[i].Start + symbols[i].Size : ulong.MaxValue;
            starts.Add(symbols[i].Start);
            ends.Add(end);
            names.Add(symbols[i].Name);
        }

        for (int i = 0; i < ends.Count; i++)
        {
            if (ends[i] == ulong.MaxValue)
            {
                ends[i] = i + 1 < starts.Count ? starts[i + 1] : starts[i] + 1;
            }
        }

        (_starts, _ends, _names) = ([.. starts], [.. ends], [.. names]);
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>Its GNU build id, lower-case hex; null when it has none.</summary>
    public string? BuildId { get; }

    /// <summary>True when the file has a .symtab (not stripped).</summary>
    public bool HasSymtab { get; }

    /// <summary>Function symbols kept.</summary>
    public int FunctionCount => _starts.Length;

    /// <summary>Reads <paramref name="path"/>; throws <see cref="IOException"/> or <see cref="InvalidDataException"/> when it cannot.</summary>
    public static ElfImage Read(string path)
    {
        using FileStream stream = File.OpenRead(path);
        if (!ElfFile.IsElf(stream))
        {
            throw new InvalidDataException($"{path} is not an ELF file");
        }

        stream.Position = 0;
        ElfFile elf;
        try
        {
            elf = ElfFile.Read(stream, new ElfReaderOptions { UseSubStream = true });
        }
        catch (Exception ex) when (ex is not IOException)
        {
            throw new InvalidDataException($"{path}: unreadable ELF ({ex.Message})", ex);
        }

        string? buildId = null;
        foreach (ElfNoteTable notes in elf.Sections.OfType<ElfNoteTable>())
        {
            foreach (ElfGnuNoteBuildId note in notes.Entries.OfType<ElfGnuNoteBuildId>())
            {
                if (note.BuildId is { } id)
                {
                    var bytes = new MemoryStream();
                    id.Position = 0;
                    id.CopyTo(bytes);
                    buildId = Convert.ToHexStringLower(bytes.ToArray());
                }
            }
        }

        var loads = elf.Segments.Where(s => s.Type == ElfSegmentTypeCore.Load)
            .Select(s => (s.Position, s.Size, s.VirtualAddress)).ToArray();
        ElfSymbolTable? symtab = elf.Sections.OfType<ElfSymbolTable>().FirstOrDefault(s => s.Type == ElfSectionType.SymbolTable);
        ElfSymbolTable? table = symtab ?? elf.Sections.OfType<ElfSymbolTable>().FirstOrDefault(s => s.Type == ElfSectionType.DynamicLinkerSymbolTable);
        var symbols = new List<(ulong, ulong, int, string)>();
        if (table is not null)
        {
            foreach (ElfSymbol s in table.Entries)
            {
                if ((s.Type == ElfSymbolType.Function || s.Type == ElfSymbolType.GnuIndirectFunction) && s.Value != 0 && !s.Name.IsEmpty)
                {
                    int rank = (s.Bind == ElfSymbolBind.Global ? 0 : s.Bind == ElfSymbolBind.Weak ? 2 : 4) + (s.Name.Value.StartsWith('_') ? 1 : 0);
                    string name = s.Name.Value;
                    int at = name.IndexOf('@', StringComparison.Ordinal); // versioned names: malloc@@GLIBC_2.2.5
                    symbols.Add((s.Value, s.Size, rank, at > 0 ? name[..at] : name));
                }
            }
        }

        return new ElfImage(path, buildId, loads, symbols, symtab is not null);
    }

    /// <summary>The virtual address at <paramref name="fileOffset"/>, or null when no PT_LOAD segment maps that offset.</summary>
    public ulong? VirtualAddressOf(ulong fileOffset)
    {
        foreach ((ulong offset, ulong size, ulong vaddr) in _loads)
        {
            if (fileOffset >= offset && fileOffset < offset + size)
            {
                return fileOffset - offset + vaddr;
            }
        }

        return null;
    }

    /// <summary>The function covering <paramref name="vaddr"/> and the offset into it, or null.</summary>
    public (string Name, ulong Offset)? FunctionAt(ulong vaddr)
    {
        int i = Array.BinarySearch(_starts, vaddr);
        if (i < 0)
        {
            i = ~i - 1;
        }

        return i >= 0 && vaddr < _ends[i] ? (_names[i], vaddr - _starts[i]) : null;
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Path} ({FunctionCount} functions)");
}
