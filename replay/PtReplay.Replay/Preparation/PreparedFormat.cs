using System.Runtime.InteropServices;

namespace PtReplay.Replay.Preparation;

/// <summary>
/// The prepared-trace layout shared with the native replayer (replay/native/prepared_format.h and
/// replay/native/PREPARED-FORMAT.md; keep all three in step).
/// </summary>
public static class PreparedFormat
{
    /// <summary>File magic.</summary>
    public static ReadOnlySpan<byte> Magic => "PTRPREP1"u8;

    /// <summary>Format version.</summary>
    public const uint Version = 1;

    /// <summary>Size of the header.</summary>
    public const int HeaderSize = 128;

    /// <summary>next_thread of the last op.</summary>
    public const ushort NoThread = 0xFFFF;

    /// <summary>Largest thread count the 16-bit next_thread field can name.</summary>
    public const int MaxThreads = 0xFFFE;

    /// <summary>
    /// Kind byte a streamed file's writer stores in the next op slot of each thread when it fails: its reader stops with an
    /// error (never an op kind of a complete file).
    /// </summary>
    public const byte AbortKind = 0xFF;
}

/// <summary>Op kinds: the malloc-family calls keep their trace-format numbers.</summary>
public enum PreparedKind : byte
{
    /// <summary>Not an op.</summary>
    None = 0,
    /// <summary>malloc(size).</summary>
    Malloc = 1,
    /// <summary>calloc(arg, size).</summary>
    Calloc = 2,
    /// <summary>realloc(slot, size).</summary>
    Realloc = 3,
    /// <summary>reallocarray(slot, arg, size).</summary>
    ReallocArray = 4,
    /// <summary>free(slot).</summary>
    Free = 5,
    /// <summary>memalign(arg, size).</summary>
    Memalign = 6,
    /// <summary>posix_memalign(&amp;p, arg, size).</summary>
    PosixMemalign = 7,
    /// <summary>aligned_alloc(arg, size).</summary>
    AlignedAlloc = 8,
    /// <summary>valloc(size).</summary>
    Valloc = 9,
    /// <summary>pvalloc(size).</summary>
    Pvalloc = 10,
    /// <summary>The thread's stream ends: pass the turn on and exit.</summary>
    ThreadExit = 17,
    /// <summary>
    /// A forked child's replay: the ops before rebuilt its parent's heap; fork here (the model: as glibc's
    /// child; the native replayer: fork(2), the parent waits and exits) and measure from here on.
    /// </summary>
    Fork = 18,
    /// <summary>
    /// Create the replay thread of thread <c>arg</c> here: a recorded thread that started when an earlier one had
    /// exited, so the replay never runs more threads at once than the recording did (see TracePreparer's thread rules).
    /// </summary>
    Start = 19,
    /// <summary>Join thread <c>arg</c> before going on.</summary>
    Join = 20,
    /// <summary>mallopt(arg, size), each a C int sign-extended to 64 bits, where the program called it; not timed, not a call on a slot.</summary>
    Mallopt = 21,
    /// <summary>malloc_trim(size) where the program called it; not timed, not a call on a slot.</summary>
    MallocTrim = 22,
}

/// <summary>Op flag bits (prepared_format.h, enum prep_flag).</summary>
[Flags]
public enum OpMarks : byte
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>The slot's previous op ran on another thread: wait until the slot's stamp equals Dep (concurrent mode).</summary>
    Wait = 1,
    /// <summary>Take a metrics sample after this op.</summary>
    Sample = 2,
    /// <summary>free(NULL).</summary>
    NullPtr = 4,
    /// <summary>realloc(p, 0) that freed p and returned NULL in the recording.</summary>
    Release = 8,
    /// <summary>The recorded call failed: a non-NULL replay result is freed at once (slot 0).</summary>
    ExpectFail = 16,
}

/// <summary>One 32-byte op record (prepared_format.h, struct prep_op).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 32)]
public struct PreparedOp
{
    /// <summary>Requested size (element size for calloc/reallocarray); for free, the freed block's requested size.</summary>
    public ulong Size;
    /// <summary>calloc/reallocarray count; alignment for the aligned calls; thread index for Join; mallopt's parameter.</summary>
    public ulong Arg;
    /// <summary>Position in the recorded global order, modulo 2^32.</summary>
    public uint Seq;
    /// <summary>Object slot, 0 = none.</summary>
    public uint Slot;
    /// <summary>Ops on the slot before this one.</summary>
    public uint Dep;
    /// <summary>What to call.</summary>
    public PreparedKind Kind;
    /// <summary>Flags.</summary>
    public OpMarks Flags;
    /// <summary>Thread that runs op Seq+1; <see cref="PreparedFormat.NoThread"/> after the last op.</summary>
    public ushort NextThread;

    /// <summary>Bytes requested by the call (Size × Arg for calloc/reallocarray).</summary>
    public readonly ulong RequestedBytes => Kind is PreparedKind.Calloc or PreparedKind.ReallocArray ? Size * Arg : Size;
}

/// <summary>One thread's entry in the thread table (struct prep_thread).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = 32)]
public struct PreparedThread
{
    /// <summary>Index of the thread's first op.</summary>
    public ulong OpStart;
    /// <summary>Number of ops.</summary>
    public ulong OpCount;
    /// <summary>Index of its first sample id.</summary>
    public ulong SampleStart;
    /// <summary>Number of sampled ops.</summary>
    public ulong SampleCount;
}

/// <summary>The header (struct prep_header).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1, Size = PreparedFormat.HeaderSize)]
public unsafe struct PreparedHeader
{
    /// <summary>"PTRPREP1".</summary>
    public fixed byte Magic[8];
    /// <summary>Format version.</summary>
    public uint Version;
    /// <summary>Threads.</summary>
    public uint ThreadCount;
    /// <summary>Ops.</summary>
    public ulong OpCount;
    /// <summary>Slots (1..SlotCount-1 are used).</summary>
    public ulong SlotCount;
    /// <summary>Samples.</summary>
    public ulong SampleCount;
    /// <summary>Thread that runs seq 0.</summary>
    public uint FirstThread;
    /// <summary>The most threads alive at once, thread 0 included, before and after any fork: one latency histogram each.</summary>
    public uint ThreadsAtOnce;
    /// <summary>Thread table offset.</summary>
    public ulong ThreadsOffset;
    /// <summary>Op array offset.</summary>
    public ulong OpsOffset;
    /// <summary>Sample id array offset (u32 each).</summary>
    public ulong SampleIdsOffset;
    /// <summary>Sample table offset ({u64 seq, u64 live bytes} each).</summary>
    public ulong SamplesOffset;
    /// <summary>Event index table offset (u64 per op).</summary>
    public ulong EventIndexOffset;
    /// <summary>Recorded-time table offset (u64 per op, ns after the first op, indexed like the ops); 0 = none.</summary>
    public ulong TimesOffset;
    /// <summary>
    /// Recorded-address table offset (u64 per op, indexed like the ops: the address the recorded call returned, 0 for
    /// a failed call and for ops that return nothing); 0 = none. Read by the sim engine's address check.
    /// </summary>
    public ulong AddressesOffset;
    /// <summary>
    /// 0: the file is complete. Otherwise it is being written while it is replayed (<see cref="PreparedStreamWriter"/>): an
    /// op whose kind is still <see cref="PreparedKind.None"/> is not written yet (the writer stores the kind last, after
    /// the op's other fields and table entries), and the writer stays at most this many ops ahead of <see cref="Consumed"/>.
    /// </summary>
    public ulong StreamWindow;
    /// <summary>Streamed file: the ops its reader has finished (written by the reader, never decreasing).</summary>
    public ulong Consumed;
    /// <summary>Thread flags table offset (u32 per thread, <see cref="ThreadMarks"/>); 0 = none.</summary>
    public ulong ThreadFlagsOffset;
}

/// <summary>Per-thread flags of a prepared file (prepared_format.h, enum prep_thread_flag), known before any op is written.</summary>
[Flags]
public enum ThreadMarks : uint
{
    /// <summary>No flag.</summary>
    None = 0,
    /// <summary>Its replay thread is created at a <see cref="PreparedKind.Start"/> op, not before the replay.</summary>
    StartedByOp = 1,
    /// <summary>Its last op is <see cref="PreparedKind.ThreadExit"/> (the recorded thread exited).</summary>
    EndsWithExit = 2,
}
