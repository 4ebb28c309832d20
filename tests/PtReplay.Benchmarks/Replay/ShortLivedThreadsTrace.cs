using PtReplay.Traces;

namespace PtReplay.Benchmarks.Replay;

/// <summary>
/// Many short-lived threads, at most 4 alive at once: thread 0 allocates a block; workers 1..N each start, allocate two
/// blocks, free the previous worker's second block (a cross-thread free), and exit three workers later after freeing
/// their first. For timing the serial and concurrent replay of many recorded threads (docs/benchmarks).
/// </summary>
public static class ShortLivedThreadsTrace
{
    /// <summary>Writes the trace of <paramref name="workers"/> workers to <paramref name="path"/>.</summary>
    public static void Write(string path, int workers)
    {
        using TraceWriter w = TraceWriter.Create(path, new TraceHeader { RecorderVersion = "synthetic", ClockName = "synthetic" });
        w.DeclareThread(0, 1000);
        long ts = 0;
        void E(EventKind kind, int thread, ulong size = 0, ulong ptr = 0, ulong result = 0) =>
            w.Write(new AllocEvent { Kind = kind, Thread = thread, Size = size, Ptr = ptr, Result = result, Timestamp = ++ts });
        static ulong A(int k) => 0x100000UL + ((ulong)k * 0x100);
        static ulong B(int k) => 0x10000000UL + ((ulong)k * 0x100);
        E(EventKind.Malloc, 0, 64, result: 0x50);
        for (int k = 1; k <= workers + 3; k++)
        {
            if (k <= workers)
            {
                w.DeclareThread(k, 1000 + k);
                E(EventKind.ThreadStart, k);
                E(EventKind.Malloc, k, 48, result: A(k));
                E(EventKind.Malloc, k, 200, result: B(k));
                if (k > 1)
                {
                    E(EventKind.Free, k, ptr: B(k - 1));
                }
            }

            if (k > 3)
            {
                E(EventKind.Free, k - 3, ptr: A(k - 3));
                E(EventKind.ThreadExit, k - 3);
            }
        }

        E(EventKind.Free, 0, ptr: B(workers));
        E(EventKind.Free, 0, ptr: 0x50);
        w.Complete();
    }
}
