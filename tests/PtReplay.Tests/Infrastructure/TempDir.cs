namespace PtReplay.Tests.Infrastructure;

/// <summary>
/// A fresh temporary folder, deleted (best effort) when disposed. Every test that writes files
/// (traces, compiled programs, scripts) works inside one, so runs never see each other's files.
/// </summary>
internal sealed class TempDir : IDisposable
{
    /// <param name="prefix">Start of the folder's name under the system temp folder (helps when one is left behind).</param>
    public TempDir(string prefix = "ptrec-")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>The path of <paramref name="name"/> inside this folder (nothing is created).</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>A new, empty sub-folder with a unique name that starts with <paramref name="name"/>.</summary>
    public string NewFolder(string name) =>
        Directory.CreateDirectory(File(name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind is harmless.
        }
    }
}
