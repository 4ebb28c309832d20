using BenchmarkDotNet.Attributes;
using PtReplay.Traces;

namespace PtReplay.Benchmarks.Traces;

/// <summary>
/// How fast <see cref="TraceReader"/> streams events (target: at least 50 million events/s). One
/// operation reads the whole trace; events/s = events (printed by the setup) / mean time.
/// <para>Input: the trace named by PTREPLAY_BENCH_TRACE if set; else a real recording of CPython made by the
/// recorder at setup (<see cref="BenchmarkTraces.PythonRecording"/>); else (recorder not built) 4 million
/// synthetic events. Each is repacked per layout; "recording" reads the source file itself (for a recorder
/// trace: its raw per-thread blocks, merged).</para>
/// Run: `dotnet run -c Release --project tests/PtReplay.Benchmarks -- --filter '*TraceReader*'`.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class TraceReaderBenchmarks
{
    private readonly AllocEvent[] _buffer = new AllocEvent[8192];
    private string _file = "";
    private long _events;

    /// <summary>How the trace is stored.</summary>
    [Params("zstd-6", "zstd-19", "brotli-5", "deflate", "raw-blocks", "recording")]
    public string Layout { get; set; } = "zstd-6";

    /// <summary>Writes the input file for <see cref="Layout"/>.</summary>
    [GlobalSetup]
    public void Setup()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ptreplay-bench");
        Directory.CreateDirectory(dir);
        string source = Environment.GetEnvironmentVariable("PTREPLAY_BENCH_TRACE") ?? BenchmarkTraces.PythonRecording(dir) ?? BenchmarkTraces.Synthetic(dir);

        _file = Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(source)}.{Layout}.trace");
        TraceWriterOptions? options = Layout switch
        {
            "zstd-6" => new TraceWriterOptions { Codec = BlockCodec.Zstd, Level = 6 },
            "zstd-19" => new TraceWriterOptions { Codec = BlockCodec.Zstd, Level = 19 },
            "brotli-5" => new TraceWriterOptions { Codec = BlockCodec.Brotli, Level = 5 },
            "deflate" => new TraceWriterOptions { Codec = BlockCodec.Deflate, Level = 1 },
            "raw-blocks" => new TraceWriterOptions { Codec = BlockCodec.Raw },
            _ => null,
        };
        if (options is null)
        {
            _file = source;
        }
        else if (!File.Exists(_file) || File.GetLastWriteTimeUtc(_file) < File.GetLastWriteTimeUtc(source))
        {
            TracePacker.Pack(source, _file, options);
        }

        _events = ReadAll();
        Console.WriteLine($"// {Layout}: {_events:N0} events, {new FileInfo(_file).Length:N0} bytes, {(double)new FileInfo(_file).Length / _events:F2} bytes/event ({_file})");
    }

    /// <summary>Streams every event with ReadBatch (the time of one whole trace).</summary>
    [Benchmark]
    public long ReadBatch() => ReadAll();

    private long ReadAll()
    {
        using TraceReader reader = TraceReader.Open(_file);
        long n = 0;
        int got;
        while ((got = reader.ReadBatch(_buffer)) > 0)
        {
            n += got;
        }

        return n;
    }
}
