using PtReplay.Traces;
using PtReplay.Traces.Recording;

namespace PtReplay.Benchmarks.Traces;

/// <summary>Input traces for the trace benchmarks, made once per machine in a temp folder.</summary>
public static class BenchmarkTraces
{
    /// <summary>An allocation-heavy Python program: dicts, lists, strings, JSON round trip (about 7 million calls).</summary>
    public const string PythonScript = """
        import json
        d = {}
        for i in range(200000):
            d[str(i)] = [i, str(i) * 3, {"k": i}]
            if i % 3 == 0:
                del d[str(i // 2)]
        s = json.dumps(list(d.items())[:50000])
        x = json.loads(s)
        print(len(x))
        """;

    /// <summary>Records <see cref="PythonScript"/> under /usr/bin/python3 (PYTHONMALLOC=malloc, PYTHONHASHSEED=0) into a raw trace; null when the recorder or python3 is missing.</summary>
    public static string? PythonRecording(string dir)
    {
        string trace = Path.Combine(dir, "python-recording.trace");
        if (File.Exists(trace))
        {
            return trace;
        }

        if (NativeArtifacts.TryFind(NativeArtifacts.Recorder) is not { } lib || !File.Exists("/usr/bin/python3"))
        {
            return null;
        }

        string script = Path.Combine(dir, "alloc-heavy.py");
        File.WriteAllText(script, PythonScript);
        RecordingResult r = Recorder.Run(new RecordingOptions
        {
            Command = ["/usr/bin/python3", script],
            OutputPath = trace,
            FollowChildren = false,
            RecorderLibrary = lib,
            CaptureOutput = true,
            ExtraEnvironment = new Dictionary<string, string?> { ["PYTHONMALLOC"] = "malloc", ["PYTHONHASHSEED"] = "0" },
        });
        return r.ExitCode == 0 && File.Exists(trace) ? trace : null;
    }

    /// <summary>4 million events of <see cref="SyntheticWorkload"/> (less compressible than real programs: a pessimistic input).</summary>
    public static string Synthetic(string dir)
    {
        string trace = Path.Combine(dir, "synthetic.trace");
        if (!File.Exists(trace))
        {
            SyntheticWorkload.Write(trace, 4_000_000, new TraceWriterOptions { Codec = BlockCodec.Raw, EventsPerBlock = 8192 });
        }

        return trace;
    }
}
