namespace PtReplay.Tests.Allocator;

/// <summary>Operations the C driver (Assets/driver.c) understands; numbers match its enum.</summary>
public enum DriverOp : ulong
{
    Malloc = 0,
    Free = 1,
    Calloc = 2,
    Realloc = 3,
    Memalign = 4,
    PosixMemalign = 5,
    AlignedAlloc = 6,
    Valloc = 7,
    Pvalloc = 8,
    Trim = 9,
    ReallocArray = 10,
    Mallopt = 11,
    Usable = 12,
    ThreadExit = 13,
    MallInfo = 14,
    MallocInfo = 15,
    FreeAt = 16,
    ReallocAt = 17,
    HeapResident = 18,
}

/// <summary>One scripted call: which thread, which slot holds the pointer, and up to two arguments.</summary>
public readonly record struct DriverCall(DriverOp Op, int Thread, int Slot, ulong A, ulong B);

/// <summary>A script for the driver and the model.</summary>
public sealed class DriverScript
{
    public List<DriverCall> Calls { get; } = [];
    public int Slots { get; set; } = 1;
    public int Threads { get; set; } = 1;

    public void Add(DriverOp op, int slot, ulong a = 0, ulong b = 0, int thread = 0)
    {
        Calls.Add(new DriverCall(op, thread, slot, a, b));
        Slots = Math.Max(Slots, slot + 1);
        Threads = Math.Max(Threads, thread + 1);
    }

    /// <summary>Binary form read by driver.c.</summary>
    public byte[] ToBytes()
    {
        var words = new List<ulong> { (ulong)Calls.Count, (ulong)Slots, (ulong)Threads };
        foreach (var c in Calls)
        {
            words.Add((ulong)c.Op);
            words.Add((ulong)c.Thread);
            words.Add((ulong)c.Slot);
            words.Add(c.A);
            words.Add(c.B);
        }
        var bytes = new byte[words.Count * 8];
        for (int i = 0; i < words.Count; i++)
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 8), words[i]);
        return bytes;
    }
}

/// <summary>What the driver recorded: brk0 and per call {result, usable, x, y}.</summary>
public sealed record DriverResult(ulong Brk0, ulong[][] PerCall)
{
    /// <summary>malloc_info XML written by a final MallocInfo call, if any.</summary>
    public string MallocInfoXml { get; init; } = "";
}
