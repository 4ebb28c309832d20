namespace PtReplay.Replay.Parity;

/// <summary>What the address check found on one replay.</summary>
/// <param name="Report">The replayed trace's own events.</param>
/// <param name="Inherited">For a forked child replayed from its inherited heap: its ancestors' events up to the fork; else null.</param>
public sealed record AddressParity(ParityReport Report, ParityReport? Inherited);
