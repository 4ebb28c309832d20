using System.Runtime.InteropServices;

namespace PtReplay.Traces.Symbols;

/// <summary>
/// Source lines of one ELF image from its DWARF line tables, read by elfutils' libdw (Debian package libdw1: every DWARF
/// version, compressed debug sections, and the separate debug file found by build id under /usr/lib/debug or by
/// .gnu_debuglink). One instance holds the image open until disposed.
/// <para>Invariant: addresses given to <see cref="Lookup"/> are the image's own virtual addresses (as in its program
/// headers); the load bias libdw chose is added here.</para>
/// </summary>
public sealed partial class DwarfLines : IDisposable
{
    private const string Library = "libdw.so.1";
    private static readonly Lazy<IntPtr> Callbacks = new(CreateCallbacks);
    private IntPtr _dwfl;
    private readonly IntPtr _module;
    private readonly ulong _bias;

    private DwarfLines(IntPtr dwfl, IntPtr module, ulong bias) => (_dwfl, _module, _bias) = (dwfl, module, bias);

    /// <summary>True when libdw can be loaded (libdw1 installed).</summary>
    public static bool Available => Callbacks.Value != IntPtr.Zero;

    /// <summary>Opens <paramref name="path"/>; null when libdw is missing or the file is not an ELF image it reads.</summary>
    public static DwarfLines? Open(string path)
    {
        if (!Available)
        {
            return null;
        }

        IntPtr dwfl = Native.dwfl_begin(Callbacks.Value);
        if (dwfl == IntPtr.Zero)
        {
            return null;
        }

        IntPtr module = Native.dwfl_report_elf(dwfl, Path.GetFileName(path), path, -1, 0, add_p_vaddr: true);
        if (module == IntPtr.Zero || Native.dwfl_report_end(dwfl, IntPtr.Zero, IntPtr.Zero) != 0)
        {
            Native.dwfl_end(dwfl);
            return null;
        }

        _ = Native.dwfl_module_getelf(module, out ulong bias);
        return new DwarfLines(dwfl, module, bias);
    }

    /// <summary>The source file and line of <paramref name="vaddr"/>, or null when the image has no line for it.</summary>
    public (string File, int Line)? Lookup(ulong vaddr)
    {
        ObjectDisposedException.ThrowIf(_dwfl == IntPtr.Zero, this);
        IntPtr line = Native.dwfl_module_getsrc(_module, vaddr + _bias);
        if (line == IntPtr.Zero)
        {
            return null;
        }

        IntPtr name = Native.dwfl_lineinfo(line, out _, out int lineNumber, out _, out _, out _);
        return name == IntPtr.Zero || lineNumber <= 0 ? null : (Marshal.PtrToStringUTF8(name)!, lineNumber);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_dwfl != IntPtr.Zero)
        {
            Native.dwfl_end(_dwfl);
            _dwfl = IntPtr.Zero;
        }
    }

    // Dwfl_Callbacks { find_elf, find_debuginfo, section_address, debuginfo_path }: libdw's own standard functions, so
    // debug files are looked up where elfutils' tools look (the default debuginfo path).
    private static IntPtr CreateCallbacks()
    {
        if (!NativeLibrary.TryLoad(Library, out IntPtr lib))
        {
            return IntPtr.Zero;
        }

        IntPtr block = Marshal.AllocHGlobal(4 * IntPtr.Size); // kept for the process's life
        Marshal.WriteIntPtr(block, 0, NativeLibrary.GetExport(lib, "dwfl_build_id_find_elf"));
        Marshal.WriteIntPtr(block, IntPtr.Size, NativeLibrary.GetExport(lib, "dwfl_standard_find_debuginfo"));
        Marshal.WriteIntPtr(block, 2 * IntPtr.Size, NativeLibrary.GetExport(lib, "dwfl_offline_section_address"));
        Marshal.WriteIntPtr(block, 3 * IntPtr.Size, IntPtr.Zero);
        return block;
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Style", "IDE1006", Justification = "libdw's names")]
    private static partial class Native
    {
        [LibraryImport(Library)]
        internal static partial IntPtr dwfl_begin(IntPtr callbacks);

        [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial IntPtr dwfl_report_elf(IntPtr dwfl, string name, string fileName, int fd, ulong bias, [MarshalAs(UnmanagedType.U1)] bool add_p_vaddr);

        [LibraryImport(Library)]
        internal static partial int dwfl_report_end(IntPtr dwfl, IntPtr removed, IntPtr arg);

        [LibraryImport(Library)]
        internal static partial IntPtr dwfl_module_getelf(IntPtr module, out ulong bias);

        [LibraryImport(Library)]
        internal static partial IntPtr dwfl_module_getsrc(IntPtr module, ulong address);

        [LibraryImport(Library)]
        internal static partial IntPtr dwfl_lineinfo(IntPtr line, out ulong address, out int line_number, out int column, out ulong mtime, out ulong length);

        [LibraryImport(Library)]
        internal static partial void dwfl_end(IntPtr dwfl);
    }
}
