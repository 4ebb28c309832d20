using System.Globalization;
using System.Text;
using PtReplay.Replay;
using PtReplay.Replay.Findings;
using PtReplay.Replay.Preparation;
using PtReplay.Results.Findings;
using PtReplay.Traces;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay info TRACE --sites [--top N] [--json]`: the allocation sites of a trace recorded with stacks, by peak live
/// bytes, by calls and by free bytes pinned in the model's heap at its peak and end (which takes the replays `explain`
/// makes: <see cref="HeapFindingsBuilder"/> without tunable suggestions).
/// </summary>
public static class InfoSites
{
    /// <summary>Help for the options.</summary>
    public const string Help =
        "--sites lists the allocation sites of a trace recorded with `record --stacks` (a site is the first frame outside malloc, " +
        "operator new and the recorder, named from the binaries' symbols and DWARF lines): the top N by peak live bytes, by calls, " +
        "and by free bytes pinned below their live chunks in the model's heap at its peak and end. The last ranking replays the " +
        "trace into the model as `explain` does (progress on stderr). A frame that cannot be named shows as ?.";

    /// <summary>Runs the sites view; returns the exit code.</summary>
    public static int Run(string path, int top, bool json)
    {
        string file = CliPaths.Input(path);
        bool hasStacks;
        using (TraceReader reader = TraceReader.Open(file))
        {
            hasStacks = reader.Stacks.Count > 0;
        }

        if (!hasStacks)
        {
            Console.Out.Write(json
                ? HeapFindingsJson.Serialize(new SiteListFile { Trace = path }) + "\n"
                : $"{path}: {SitesText.NoStacks}\n");
            return ExitCodes.Ok;
        }

        string work = Directory.CreateTempSubdirectory("ptreplay-sites-").FullName;
        try
        {
            var options = new ReplayOptions();
            PreparedInput input = ReplayRunner.PrepareFile(file, work, options, new PreparationOptions().WithRecordedTimes());
            var request = new FindingsRequest { Moments = ["peak", "end"], Pins = 0, Suggest = false, Sites = top };
            HeapFindingsFile f;
            try
            {
                f = HeapFindingsBuilder.Build(input, options, null, request, line => Console.Error.WriteLine($"info: {line}"));
            }
            catch (PtReplay.Allocator.MallocAbortException ex)
            {
                throw CliException.BadInput(ex.GlibcMessage, ex);
            }

            if (json)
            {
                Console.Out.Write(HeapFindingsJson.Serialize(new SiteListFile
                {
                    Trace = path,
                    StacksRecorded = f.StacksRecorded,
                    Moments = [.. f.Moments.Select(m => m.At)],
                    SiteCount = f.SiteCount,
                    Sites = f.Sites,
                }) + "\n");
            }
            else
            {
                var sb = new StringBuilder();
                sb.Append(CultureInfo.InvariantCulture, $"{path}: committed footprint in the model: peak {f.Baseline.PeakCommittedBytes:N0} B, end {f.Baseline.EndCommittedBytes:N0} B\n");
                SitesText.Append(sb, f, top);
                Console.Out.Write(sb.ToString());
            }

            return ExitCodes.Ok;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
