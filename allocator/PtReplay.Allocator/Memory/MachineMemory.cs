using System.Globalization;

namespace PtReplay.Allocator.Memory;

/// <summary>
/// The memory of the machine the model runs on, for the default overcommit limit: Linux's heuristic mode
/// (vm.overcommit_memory = 0, the default) refuses a single commit of more pages than RAM + swap (MemTotal +
/// SwapTotal in /proc/meminfo); mode 1 never refuses; mode 2 (strict) is approximated by CommitLimit.
/// </summary>
public static class MachineMemory
{
    private static readonly Lazy<ulong> Limit = new(() => ReadMode() switch
    {
        1 => ulong.MaxValue,
        2 => ReadField("/proc/meminfo", "CommitLimit:"),
        _ => ReadLimit("/proc/meminfo"),
    });

    private static int ReadMode()
    {
        try
        {
            return int.TryParse(File.ReadAllText("/proc/sys/vm/overcommit_memory").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int m) ? m : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static ulong ReadField(string meminfoPath, string field)
    {
        try
        {
            foreach (string line in File.ReadLines(meminfoPath))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && parts[0] == field && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong kib))
                    return kib * 1024;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return ulong.MaxValue;
    }

    /// <summary>MemTotal + SwapTotal in bytes, or <see cref="ulong.MaxValue"/> when /proc/meminfo cannot be read.</summary>
    public static ulong OvercommitLimit => Limit.Value;

    /// <summary>MemTotal + SwapTotal from a meminfo file; <see cref="ulong.MaxValue"/> when absent or unreadable.</summary>
    public static ulong ReadLimit(string meminfoPath)
    {
        try
        {
            ulong total = 0;
            bool found = false;
            foreach (string line in File.ReadLines(meminfoPath))
            {
                if (!line.StartsWith("MemTotal:", StringComparison.Ordinal) && !line.StartsWith("SwapTotal:", StringComparison.Ordinal))
                    continue;
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out ulong kib))
                {
                    total += kib * 1024;
                    found |= parts[0] == "MemTotal:";
                }
            }
            return found ? total : ulong.MaxValue;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ulong.MaxValue;
        }
    }
}
