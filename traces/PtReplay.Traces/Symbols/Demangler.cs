using System.Runtime.InteropServices;

namespace PtReplay.Traces.Symbols;

/// <summary>
/// C++ names in readable form through the C++ runtime's own demangler (<c>__cxa_demangle</c> of libstdc++, present
/// wherever g++ programs run). A name that is not mangled, or that the runtime cannot demangle, is returned as it is.
/// </summary>
public static partial class Demangler
{
    private const string Library = "libstdc++.so.6";
    private static readonly Lazy<bool> Loaded = new(() => NativeLibrary.TryLoad(Library, out _));

    /// <summary>The demangled form of <paramref name="name"/>, or <paramref name="name"/>.</summary>
    public static string Demangle(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!name.StartsWith("_Z", StringComparison.Ordinal) || !Loaded.Value)
        {
            return name;
        }

        IntPtr text = CxaDemangle(name, IntPtr.Zero, IntPtr.Zero, out int status);
        if (text == IntPtr.Zero)
        {
            return name;
        }

        try
        {
            return status == 0 ? Marshal.PtrToStringUTF8(text) ?? name : name;
        }
        finally
        {
            Marshal.FreeHGlobal(text); // malloc'ed by the runtime; FreeHGlobal is free() on Linux
        }
    }

    [LibraryImport(Library, EntryPoint = "__cxa_demangle", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr CxaDemangle(string mangled, IntPtr buffer, IntPtr length, out int status);
}
