using System.CommandLine;
using PtReplay.Cli;

namespace PtReplay.Tests.Replay.Cli;

/// <summary>
/// `ptreplay VERB ...` builds only that verb's command line (every start of `record` pays for what it builds before the
/// program starts): each verb alone must help and refuse exactly as it does in the full command tree.
/// </summary>
public class ProgramVerbsTests
{
    [Fact]
    public void EachVerbAlone_HelpsAndRefusesAsInTheFullTree()
    {
        RootCommand full = Program.BuildRoot();
        Assert.True(full.Subcommands.Count >= 15, "the verbs are missing from the full tree");
        int refused = 0;
        foreach (Command verb in full.Subcommands)
        {
            RootCommand alone = Program.BuildRoot(verb.Name);
            Assert.Equal([verb.Name], alone.Subcommands.Select(c => c.Name));
            foreach (string[] args in new[] { new[] { verb.Name, "--help" }, new[] { verb.Name, "--no-such-option" }, new[] { verb.Name } })
            {
                Assert.Equal(Parse(Program.BuildRoot(), args), Parse(alone, args));
            }

            refused += Parse(alone, [verb.Name, "--no-such-option"]).Errors.Length > 0 ? 1 : 0;
            Assert.Equal("HelpAction", Parse(alone, [verb.Name, "--help"]).Action);
        }

        Assert.True(refused > 0, "no verb refused an unknown option: the comparison above compared nothing");

        // Anything that is not a verb gets the full tree (root help, suggestions for a misspelt verb).
        Assert.Equal(full.Subcommands.Select(c => c.Name), Program.BuildRoot("recrod").Subcommands.Select(c => c.Name));
        Assert.Equal(full.Subcommands.Select(c => c.Name), Program.BuildRoot("--help").Subcommands.Select(c => c.Name));
    }

    /// <summary>What a parse decided: the command, what runs, and the errors.</summary>
    private static (string Command, string Action, string Errors) Parse(RootCommand root, string[] args)
    {
        ParseResult r = root.Parse(args);
        return (r.CommandResult.Command.Name, r.Action?.GetType().Name ?? "", string.Join("\n", r.Errors.Select(e => e.Message)));
    }
}
