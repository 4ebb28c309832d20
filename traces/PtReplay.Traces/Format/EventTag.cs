namespace PtReplay.Traces.Format;

/// <summary>
/// The first byte of every encoded event (traces/FORMAT.md "Events"):
/// <code>
///   bit  7        6              5             4..0
///      status | thread-switch | null-result |  kind
/// </code>
/// In a block with the timed-tags flag (single-thread only) bit 6 means instead: a time delta follows.

/// </summary>
internal static class EventTag
{
    public const int KindMask = 0x1F;
    public const int NullResult = 0x20;
    public const int ThreadSwitch = 0x40;
    public const int TimeAdvanced = 0x40;
    public const int Status = 0x80;
}
