namespace PtReplay.Traces.Stacks;

/// <summary>
/// One executable file mapping of the recorded process (an ELF image's text mapped at <see cref="Start"/>):
/// what a return address in a recorded call stack needs to be symbolised after the process is gone.
/// <para>Invariants: <see cref="Start"/> &lt; <see cref="End"/>; an address <c>a</c> in
/// [<see cref="Start"/>, <see cref="End"/>) lies at file offset <c>a - Start + FileOffset</c> of
/// <see cref="Path"/>; <see cref="BuildId"/> is the lower-case hex of the image's GNU build id note, or null
/// when the image has none (symbolisation then trusts the path alone).</para>
/// </summary>
/// <param name="Start">First address of the mapping.</param>
/// <param name="End">One past its last address.</param>
/// <param name="FileOffset">File offset mapped at <paramref name="Start"/>.</param>
/// <param name="Path">The file's path as the process saw it.</param>
/// <param name="BuildId">GNU build id, lower-case hex; null when absent.</param>
public sealed record ModuleMapping(ulong Start, ulong End, ulong FileOffset, string Path, string? BuildId)
{
    /// <summary>True when <paramref name="address"/> falls in this mapping.</summary>
    public bool Contains(ulong address) => address >= Start && address < End;

    /// <summary>The file offset of <paramref name="address"/> (which must be <see cref="Contains"/>ed).</summary>
    public ulong FileOffsetOf(ulong address) => address - Start + FileOffset;
}
