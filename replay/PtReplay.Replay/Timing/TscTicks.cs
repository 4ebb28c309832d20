using System.Runtime.CompilerServices;

namespace PtReplay.Replay.Timing;

/// <summary>
/// The TSC through <see cref="CycleCounter.Read"/> (about 10 ns a read plus the call on the project VM).
/// Ticks per ns: calibrated by <see cref="ModelTimer"/>. Use only after <see cref="CycleCounter.TryLoad"/>.
/// </summary>
public readonly struct TscTicks : ITickSource
{
    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Now() => (long)CycleCounter.Read();
}
