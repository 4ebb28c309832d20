using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PtReplay.Traces;

namespace PtReplay.Replay.Timing;

/// <summary>
/// The time-stamp counter (rdtsc), read through libptreplay-clock.so (replay/native/clock, built by
/// `dotnet build`): .NET has no rdtsc intrinsic, so the read is one unmanaged call through a function
/// pointer with <see cref="SuppressGCTransitionAttribute"/> (no GC mode switch: the function only
/// executes rdtsc, never blocks, never calls back).
/// <para>Invariant: <see cref="Read"/> is valid only after <see cref="TryLoad"/> returned true.</para>
/// </summary>
public static unsafe class CycleCounter
{
    /// <summary>The shared library's file name (in native/ beside the assembly or artifacts/native).</summary>
    public const string LibraryName = "libptreplay-clock.so";

    private static delegate* unmanaged[SuppressGCTransition]<ulong> s_read;
    private static string? s_loadError;
    private static readonly Lock LoadLock = new();

    /// <summary>The counter's current value (one rdtsc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Read() => s_read();

    /// <summary>
    /// Loads the library once per process; false with the reason when it is missing, has no
    /// counter on this architecture, or cannot be loaded.
    /// </summary>
    public static bool TryLoad(out string? error)
    {
        lock (LoadLock)
        {
            if (s_read == null && s_loadError is null)
            {
                s_loadError = Load();
            }

            error = s_loadError;
            return s_read != null;
        }
    }

    private static string? Load()
    {
        string? path = NativeArtifacts.TryFind(LibraryName);
        if (path is null)
        {
            return $"{LibraryName} not found beside {AppContext.BaseDirectory} or in artifacts/native (build with `dotnet build`)";
        }

        try
        {
            nint lib = NativeLibrary.Load(path);
            var available = (delegate* unmanaged[SuppressGCTransition]<int>)NativeLibrary.GetExport(lib, "ptreplay_cycle_clock_available");
            if (available() == 0)
            {
                return $"{path} has no cycle counter on this architecture";
            }

            s_read = (delegate* unmanaged[SuppressGCTransition]<ulong>)NativeLibrary.GetExport(lib, "ptreplay_cycle_clock_read");
            return null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return $"{path}: {ex.Message}";
        }
    }
}
