namespace PtReplay.Traces;

/// <summary>
/// Finds files of the repository checkout the program runs from (bundled workloads, samples, built native
/// parts) by walking up from a start folder: the program's own folder lies inside the checkout.
/// </summary>
public static class RepositoryFiles
{
    /// <summary>
    /// The first existing file or folder <paramref name="relativePath"/> under a folder at or above one of
    /// <paramref name="startFolders"/> (tried in order, each walked up to the root), or null.
    /// </summary>
    public static string? FindAbove(string relativePath, params string[] startFolders)
    {
        ArgumentNullException.ThrowIfNull(startFolders);
        foreach (string start in startFolders)
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, relativePath);
                if (File.Exists(candidate) || Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
