using BenchmarkDotNet.Attributes;
using PtReplay.Allocator;

namespace PtReplay.Benchmarks.Allocator;

/// <summary>
/// Steady-state cost of the ptmalloc model. After warm-up every operation reuses simulated pages, so
/// MemoryDiagnoser must report 0 B allocated per operation.
/// Run: dotnet run -c Release --project tests/PtReplay.Benchmarks -- --filter '*PtmallocBenchmarks*'
/// </summary>
[MemoryDiagnoser]
public class PtmallocBenchmarks
{
    private const int Live = 4096;
    private Ptmalloc _model = null!;
    private ulong[] _slots = null!;
    private ulong[] _sizes = null!;
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _model = new Ptmalloc(new ModelOptions());
        _slots = new ulong[Live];
        _sizes = new ulong[Live * 4];
        var r = new Random(1);
        for (int i = 0; i < _sizes.Length; i++)
            _sizes[i] = r.Next(10) switch { < 6 => (ulong)r.Next(1, 128), < 9 => (ulong)r.Next(128, 2048), _ => (ulong)r.Next(2048, 64 * 1024) };
        for (int round = 0; round < 8; round++)
            for (int i = 0; i < Live; i++)
            {
                _model.Free(0, _slots[i]);
                _slots[i] = _model.Malloc(0, _sizes[(i * 7 + round) % _sizes.Length]);
            }
    }

    /// <summary>Free one random live block and allocate a block of another size in its place (mixed bins).</summary>
    [Benchmark(OperationsPerInvoke = 1024)]
    public ulong MixedFreeMalloc()
    {
        ulong sum = 0;
        for (int k = 0; k < 1024; k++)
        {
            int i = (int)((uint)(_next * 2654435761u) % Live);
            _model.Free(0, _slots[i]);
            _slots[i] = _model.Malloc(0, _sizes[_next % _sizes.Length]);
            sum += _slots[i];
            _next++;
        }
        return sum;
    }

    /// <summary>malloc/free of one small size: the tcache fast path.</summary>
    [Benchmark(OperationsPerInvoke = 1024)]
    public ulong TcacheMallocFree()
    {
        ulong sum = 0;
        for (int k = 0; k < 1024; k++)
        {
            ulong p = _model.Malloc(0, 48);
            _model.Free(0, p);
            sum += p;
        }
        return sum;
    }
}
