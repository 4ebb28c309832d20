using PtReplay.Traces;

namespace PtReplay.Benchmarks.Replay;

/// <summary>
/// The long synthetic trace of streaming-replay.sh: a bounded live set over several threads, of any length. Workers
/// 1..<see cref="Workers"/> take turns in runs of 64 calls; each call frees the oldest of <see cref="LiveBlocks"/>
/// blocks (allocated by whichever thread, so a quarter of the frees are cross-thread) and allocates a new one of 16 to
/// 1,040 bytes (one in 64 a realloc instead); every 1,000,000 calls the worker of the last run exits and a new thread takes its place.
/// Addresses come from two alternating address ranges per block position, so a freed address is reused later.
/// </summary>
public static class StreamingTrace
{
    /// <summary>Live blocks at once (after the first calls).</summary>
    public const int LiveBlocks = 4096;

    /// <summary>Worker threads alive at once (besides thread 0, which allocates nothing).</summary>
    public const int Workers = 4;

    /// <summary>Writes about <paramref name="events"/> events to <paramref name="path"/> (zstd blocks, as `ptreplay pack`).</summary>
    public static void Write(string path, long events)
    {
        using TraceWriter w = TraceWriter.Create(path, new TraceHeader { RecorderVersion = "synthetic", ClockName = "synthetic" });
        w.DeclareThread(0, 1000);
        var alive = new int[Workers];
        int next = 1;
        for (int i = 0; i < Workers; i++)
        {
            alive[i] = next;
            w.DeclareThread(next, 1000 + next);
            next++;
        }

        var live = new ulong[LiveBlocks];
        long ts = 0;
        long written = 0;
        long call = 0;
        for (int i = 0; i < Workers; i++)
        {
            w.Write(new AllocEvent { Kind = EventKind.ThreadStart, Thread = alive[i], Timestamp = ++ts });
            written++;
        }

        while (written < events)
        {
            int slot = (int)(call / 64 % Workers);
            int thread = alive[slot];
            int k = (int)(call % LiveBlocks);
            ulong address = 0x7f0000000000UL + ((ulong)k * 0x1000UL) + ((ulong)(call / LiveBlocks % 2) * 0x10000000UL);
            ulong bytes = 16 + (ulong)((call * 2654435761L) & 1023);
            if (live[k] != 0 && call % 64 == 17)
            {
                w.Write(new AllocEvent { Kind = EventKind.Realloc, Thread = thread, Ptr = live[k], Size = bytes, Result = address, Timestamp = ++ts });
                written++;
            }
            else
            {
                if (live[k] != 0)
                {
                    w.Write(new AllocEvent { Kind = EventKind.Free, Thread = thread, Ptr = live[k], Timestamp = ++ts });
                    written++;
                }

                w.Write(new AllocEvent { Kind = EventKind.Malloc, Thread = thread, Size = bytes, Result = address, Timestamp = ++ts });
                written++;
            }

            live[k] = address;
            call++;
            if (call % 1_000_000 == 999_999 && next < 60_000)
            {
                // The worker that just ran its 64 calls exits; a new thread takes its turn.
                w.Write(new AllocEvent { Kind = EventKind.ThreadExit, Thread = thread, Timestamp = ++ts });
                alive[slot] = next;
                w.DeclareThread(next, 1000 + next);
                w.Write(new AllocEvent { Kind = EventKind.ThreadStart, Thread = next, Timestamp = ++ts });
                next++;
                written += 2;
            }
        }

        w.Complete();
    }
}
