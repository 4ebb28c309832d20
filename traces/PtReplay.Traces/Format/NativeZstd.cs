using System.Runtime.InteropServices;

namespace PtReplay.Traces.Format;

/// <summary>
/// zstd compression through the system's libzstd (Debian's libzstd1, which dpkg itself depends on), where it loads:
/// native code at full speed from the first block, where the managed port (ZstdSharp) runs its first blocks in
/// code the JIT has not optimized yet and then spends CPU time optimizing it, which `record`'s packer, compressing
/// beside the traced program, cannot afford. The frames are standard zstd: the reader decodes them as any other.
/// <para>Invariant: <see cref="Available"/> is true only when every function was found; each thread compresses with
/// a context of its own, freed when the thread's context is collected.</para>
/// </summary>
internal static unsafe class NativeZstd
{
    /// <summary>Set to "managed" to compress with ZstdSharp only (a test compares the two).</summary>
    public const string Variable = "PTREPLAY_ZSTD";

    private static readonly delegate* unmanaged<nint> CreateContext;
    private static readonly delegate* unmanaged<nint, nuint> FreeContext;
    private static readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, int, nuint> CompressWith;
    private static readonly delegate* unmanaged<nuint, uint> IsError;

    [ThreadStatic]
    private static Context? _context;

    static NativeZstd()
    {
        if (Environment.GetEnvironmentVariable(Variable) == "managed" || !NativeLibrary.TryLoad("libzstd.so.1", out nint library))
        {
            return;
        }

        if (NativeLibrary.TryGetExport(library, "ZSTD_createCCtx", out nint create) &&
            NativeLibrary.TryGetExport(library, "ZSTD_freeCCtx", out nint free) &&
            NativeLibrary.TryGetExport(library, "ZSTD_compressCCtx", out nint compress) &&
            NativeLibrary.TryGetExport(library, "ZSTD_isError", out nint isError))
        {
            CreateContext = (delegate* unmanaged<nint>)create;
            FreeContext = (delegate* unmanaged<nint, nuint>)free;
            CompressWith = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, int, nuint>)compress;
            IsError = (delegate* unmanaged<nuint, uint>)isError;
            Available = true;
        }
    }

    /// <summary>True when libzstd loaded (and <see cref="Variable"/> does not ask for the managed port).</summary>
    public static bool Available { get; }

    /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/> (at least the zstd bound long) at <paramref name="level"/>; returns the length.</summary>
    public static int Compress(int level, ReadOnlySpan<byte> source, Span<byte> destination)
    {
        Context context = _context ??= new Context();
        nuint n;
        fixed (byte* s = source)
        fixed (byte* d = destination)
        {
            n = CompressWith(context.DangerousGetHandle(), d, (nuint)destination.Length, s, (nuint)source.Length, level);
        }

        GC.KeepAlive(context);
        if (IsError(n) != 0)
        {
            throw new InvalidOperationException($"zstd compression failed (libzstd error {(long)n})");
        }

        return (int)n;
    }

    /// <summary>One thread's compression context.</summary>
    private sealed class Context : SafeHandle
    {
        public Context()
            : base(0, ownsHandle: true)
        {
            SetHandle(CreateContext());
            if (handle == 0)
            {
                throw new InvalidOperationException("libzstd could not make a compression context (out of memory)");
            }
        }

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            _ = FreeContext(handle);
            return true;
        }
    }
}
