using PtReplay.Traces;

namespace PtReplay.Benchmarks.Traces;

/// <summary>
/// A synthetic but realistic single-thread malloc stream, shaped after a recorded CPython run
/// (PYTHONMALLOC=malloc): about 45% malloc, 4% calloc, 1.5% realloc, 49.5% free; requested sizes mostly
/// 16..128 bytes with a long tail; frees mostly of recently allocated blocks; addresses from a small
/// glibc-like model (16-byte chunks, LIFO reuse per chunk size, bump from the top); timestamps 40 ns apart
/// plus a noisy tail, as on the recorder's TSC-scaled clock.
/// </summary>
public static class SyntheticWorkload
{
    /// <summary>Writes <paramref name="events"/> events to <paramref name="path"/> with <paramref name="options"/>.</summary>
    public static void Write(string path, int events, TraceWriterOptions options, int seed = 42)
    {
        using TraceWriter w = TraceWriter.Create(path, new TraceHeader { RecorderVersion = "synthetic", ClockName = "synthetic" }, options);
        w.DeclareThread(0, 1000);
        foreach (AllocEvent e in Generate(events, seed))
        {
            w.Write(e);
        }

        w.Complete();
    }

    /// <summary>The event stream.</summary>
    public static IEnumerable<AllocEvent> Generate(int events, int seed = 42)
    {
        var r = new Random(seed);
        var live = new List<(ulong Addr, ulong Size)>();
        var freeLists = new Dictionary<ulong, Stack<ulong>>();
        ulong top = 0x5555_5555_9000;
        long ts = 0;

        ulong ChunkOf(ulong size) => Math.Max(32, (size + 8 + 15) & ~15UL);

        ulong Take(ulong size)
        {
            ulong chunk = ChunkOf(size);
            if (freeLists.TryGetValue(chunk, out Stack<ulong>? s) && s.Count > 0)
            {
                return s.Pop();
            }

            ulong a = top + 16;
            top += chunk;
            return a;
        }

        void Give(ulong addr, ulong size)
        {
            ulong chunk = ChunkOf(size);
            if (!freeLists.TryGetValue(chunk, out Stack<ulong>? s))
            {
                freeLists.Add(chunk, s = new Stack<ulong>());
            }

            s.Push(addr);
        }

        ulong Size()
        {
            int p = r.Next(1000);
            return p switch
            {
                < 80 => (ulong)r.Next(1, 32),
                < 700 => (ulong)r.Next(32, 64),
                < 940 => (ulong)r.Next(64, 128),
                < 990 => (ulong)r.Next(128, 1024),
                _ => (ulong)r.Next(1024, 300_000),
            };
        }

        for (int i = 0; i < events; i++)
        {
            ts += 40 + (r.Next(4) == 0 ? r.Next(0, 2000) : r.Next(0, 60));
            int k = r.Next(1000);
            bool free = live.Count > 0 && (k < 495 || live.Count > 200_000);
            if (free)
            {
                // Mostly a recent block (LIFO-ish), sometimes an old one.
                int idx = r.Next(10) < 8 ? Math.Max(0, live.Count - 1 - r.Next(16)) : r.Next(live.Count);
                (ulong addr, ulong size) = live[idx];
                live[idx] = live[^1];
                live.RemoveAt(live.Count - 1);
                Give(addr, size);
                yield return new AllocEvent { Kind = EventKind.Free, Ptr = addr, Timestamp = ts };
            }
            else if (k < 955 || live.Count == 0)
            {
                ulong size = Size();
                ulong a = Take(size);
                live.Add((a, size));
                yield return new AllocEvent { Kind = EventKind.Malloc, Size = size, Count = 1, Result = a, Timestamp = ts };
            }
            else if (k < 985)
            {
                ulong size = Size();
                ulong n = (ulong)r.Next(1, 8);
                ulong a = Take(size * n);
                live.Add((a, size * n));
                yield return new AllocEvent { Kind = EventKind.Calloc, Size = size, Count = n, Result = a, Timestamp = ts };
            }
            else
            {
                int idx = live.Count - 1 - r.Next(Math.Min(live.Count, 32));
                (ulong old, ulong oldSize) = live[idx];
                ulong size = oldSize + (ulong)r.Next(1, 256);
                ulong a = ChunkOf(size) == ChunkOf(oldSize) ? old : Take(size);
                if (a != old)
                {
                    Give(old, oldSize);
                }

                live[idx] = (a, size);
                yield return new AllocEvent { Kind = EventKind.Realloc, Ptr = old, Size = size, Count = 1, Result = a, Timestamp = ts };
            }
        }
    }
}
