namespace PtReplay.Traces;

/// <summary>
/// Finds the native parts (libptrecord.so, ptreplay-native) that `dotnet build` makes with make.
/// They are copied to a "native" folder beside every assembly that references their project, and
/// the build also leaves them in the repository's artifacts/native folder.
/// </summary>
public static class NativeArtifacts
{
    /// <summary>The LD_PRELOAD recorder's file name.</summary>
    public const string Recorder = "libptrecord.so";

    /// <summary>The bundled multi-threaded workload (traces/workloads/mt_alloc.c).</summary>
    public const string MtWorkload = "ptworkload-mt";

    /// <summary>The native replayer's file name.</summary>
    public const string Replayer = "ptreplay-native";

    /// <summary>Full path of a native artifact, or throws with a message saying how to build it.</summary>
    public static string Find(string fileName)
    {
        string? found = TryFind(fileName);
        return found ?? throw new FileNotFoundException(
            $"Native part '{fileName}' not found beside {AppContext.BaseDirectory} or in artifacts/native. " +
            "Build the solution (`dotnet build bench.sln`, which runs make for the native parts).", fileName);
    }

    /// <summary>Full path of a native artifact, or null when it has not been built.</summary>
    public static string? TryFind(string fileName)
    {
        string beside = Path.Combine(AppContext.BaseDirectory, "native", fileName);
        if (File.Exists(beside))
        {
            return beside;
        }

        return RepositoryFiles.FindAbove(Path.Combine("artifacts", "native", fileName), AppContext.BaseDirectory);
    }
}
