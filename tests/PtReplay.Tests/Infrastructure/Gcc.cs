namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// Compiles C sources with the system gcc at test time (gcc is a build prerequisite). gcc runs in a
/// <see cref="CleanEnvironment"/> with LC_ALL=C, so its messages are the same everywhere.
/// </summary>
internal static class Gcc
{
    /// <summary>Compiles <paramref name="sourceFile"/> into <paramref name="output"/>; throws with gcc's messages when it fails.</summary>
    /// <param name="flags">Everything but the input and <c>-o</c>, e.g. <c>-O1 -Wall</c>.</param>
    /// <param name="libraries">Flags that must follow the source, e.g. <c>-lpthread</c>.</param>
    public static string Compile(string sourceFile, string output, IEnumerable<string> flags, params string[] libraries)
    {
        var (code, stdout, stderr) = ChildProcess.Run("/usr/bin/gcc", [.. flags, "-o", output, sourceFile, .. libraries],
            CleanEnvironment.With(new Dictionary<string, string> { ["LC_ALL"] = "C" }), Path.GetDirectoryName(output));
        if (code != 0)
        {
            throw new InvalidOperationException($"gcc failed ({code}) for {sourceFile}: {stdout}{stderr}");
        }

        return output;
    }

    /// <summary>Writes <paramref name="source"/> to <c>name.c</c> in <paramref name="directory"/> and compiles it to <c>name</c> there.</summary>
    public static string CompileSource(string directory, string name, string source, IEnumerable<string> flags, params string[] libraries)
    {
        string c = Path.Combine(directory, name + ".c");
        File.WriteAllText(c, source);
        return Compile(c, Path.Combine(directory, name), flags, libraries);
    }

    /// <summary>Splits a flag string such as <c>"-O1 -Wall"</c> into arguments.</summary>
    public static string[] Flags(string flags) => flags.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
