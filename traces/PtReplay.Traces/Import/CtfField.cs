namespace PtReplay.Traces.Import;

/// <summary>
/// One field of a TSDL structure as the importer understands it: an integer (inline
/// <c>integer { size = N; align = A; signed = S; ... } NAME</c>, or a typealias name), possibly an array of them
/// (<c>NAME[COUNT]</c>), or a type it does not read (strings, floats, enums, variants, sequences).
/// <para>Invariants: <see cref="SizeBits"/> and <see cref="AlignBits"/> are 0 when <see cref="IsInteger"/> is
/// false; <see cref="Count"/> is 1 for a scalar.</para>
/// </summary>
/// <param name="Name">The field name as written (LTTng prefixes payload and context fields with '_').</param>
/// <param name="IsInteger">An integer (or array of integers) with known size and alignment.</param>
/// <param name="SizeBits">Bits of one element.</param>
/// <param name="AlignBits">Alignment in bits.</param>
/// <param name="Signed">A signed integer.</param>
/// <param name="Count">Elements (1 for a scalar).</param>
public readonly record struct CtfField(string Name, bool IsInteger, int SizeBits, int AlignBits, bool Signed, int Count)
{
    /// <summary>Bits the field takes (all elements).</summary>
    public int TotalBits => SizeBits * Count;

    /// <summary>The declaration in the form the importer's messages use: "name (64-bit unsigned)".</summary>
    public override string ToString() => IsInteger
        ? $"{Name} ({SizeBits}-bit {(Signed ? "signed" : "unsigned")}{(Count > 1 ? $" [{Count}]" : "")}, align {AlignBits})"
        : $"{Name} (not an integer)";
}
