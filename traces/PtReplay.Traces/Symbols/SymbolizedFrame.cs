namespace PtReplay.Traces.Symbols;

/// <summary>
/// One return address of a recorded call stack, symbolised.
/// <para>Invariants: <see cref="Function"/> is "?" exactly when <see cref="Problem"/> says why no name was found (never a
/// guessed name); <see cref="File"/> and <see cref="Line"/> are set together, only from DWARF line information;
/// <see cref="Module"/> is the mapped file's path, null when no recorded mapping holds the address.</para>
/// </summary>
/// <param name="Address">The address as recorded.</param>
/// <param name="Function">The function's name (C++ names demangled), or "?".</param>
/// <param name="Module">The file mapped at the address, or null.</param>
/// <param name="File">Source file, or null.</param>
/// <param name="Line">Source line (0 when <paramref name="File"/> is null).</param>
/// <param name="Problem">Why the function is "?", or null.</param>
public sealed record SymbolizedFrame(ulong Address, string Function, string? Module, string? File, int Line, string? Problem)
{
    /// <summary>The name of an unresolved frame.</summary>
    public const string Unknown = "?";

    /// <summary>True when the function is named.</summary>
    public bool Resolved => Problem is null;

    /// <summary>"function (file:line)", "function (module)" or "? (why)".</summary>
    public override string ToString() =>
        Problem is not null ? $"? ({Problem})"
        : File is not null ? $"{Function} ({System.IO.Path.GetFileName(File)}:{Line})"
        : Module is not null ? $"{Function} ({System.IO.Path.GetFileName(Module)})"
        : Function;
}
