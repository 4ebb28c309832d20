using PtReplay.Allocator;
using PtReplay.Allocator.Tunables;
using PtReplay.Traces;

namespace PtReplay.Replay.Sim;

/// <summary>
/// The one place that builds the model's options for a recorded process: its program break (brk0), page size, CPU
/// count and malloc environment from the trace header, the touch model from the replay. What the header does not
/// carry keeps the model's default: the overcommit limit is this machine's RAM + swap
/// (<see cref="ModelOptions.OvercommitLimit"/>), right when the recording was made on the same machine.
/// </summary>
public static class ModelSetup
{
    /// <summary>
    /// The tunables the model and glibc run with: <paramref name="tunables"/> (GLIBC_TUNABLES syntax) when given, else
    /// the recorded process's GLIBC_TUNABLES and MALLOC_* variables. Throws <see cref="FormatException"/> or
    /// <see cref="ArgumentException"/> for bad tunables.
    /// </summary>
    public static MallocTunables Tunables(string? tunables, TraceHeader header)
    {
        ArgumentNullException.ThrowIfNull(header);
        return tunables is not null ? MallocTunables.Parse(tunables) : MallocTunables.FromEnvironment(header.MallocEnvironment);
    }

    /// <summary>The model's options for the process recorded under <paramref name="header"/>.</summary>
    public static ModelOptions Options(TraceHeader header, MallocTunables tunables, TouchMode touch)
    {
        ArgumentNullException.ThrowIfNull(header);
        return new ModelOptions
        {
            Brk0 = header.Brk0 != 0 ? header.Brk0 : new ModelOptions().Brk0,
            PageSize = header.PageSize > 0 ? (ulong)header.PageSize : 4096,
            OnlineCpus = header.OnlineCpus > 0 ? header.OnlineCpus : Environment.ProcessorCount,
            Tunables = tunables,
            Touch = touch switch { TouchMode.None => TouchModel.None, TouchMode.Full => TouchModel.Full, _ => TouchModel.Page },
        };
    }
}
