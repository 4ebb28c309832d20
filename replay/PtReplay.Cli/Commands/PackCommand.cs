using System.CommandLine;
using System.Globalization;
using PtReplay.Traces;

namespace PtReplay.Cli.Commands;

/// <summary>`ptreplay pack IN -o OUT [--codec C] [--level N]`: rewrites a trace into compact, time-ordered blocks.</summary>
public static class PackCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var input = new Argument<string>("trace") { Description = "The trace to pack (normally a raw recording: `record --raw`, or the recorder's own output)." };
        var output = new Option<string>("--output", "-o") { Description = "The packed trace to write (may be the input path: it is replaced when packing succeeds).", Required = true };
        var codec = new Option<BlockCodec>("--codec")
        {
            Description = "Block codec: Zstd (default, best size and fast to read), Brotli, Deflate or Raw.",
            DefaultValueFactory = _ => TraceWriterOptions.Packed.Codec,
        };
        var level = new Option<int>("--level") { Description = "Codec level: zstd 1-22, brotli 0-11, deflate -1 (fastest), 1 (optimal) or 2 (smallest), raw 0; 0 = the packed default (zstd 6, brotli 5, deflate smallest)." };
        var verb = new Command("pack",
            "Rewrite a trace into the packed layout (traces/FORMAT.md): the events of all threads merged in " +
            "timestamp order into large compressed blocks. The events read back are identical, thread numbers " +
            "included; packed files are several times smaller and faster to read than raw recordings. " +
            "A truncated input gives a truncated output; a corrupt input is packed up to the damage and the " +
            "verb fails with exit code 3.\n\n" +
            "Examples:\n" +
            "  ptreplay pack app.raw.trace -o app.trace\n" +
            "  ptreplay pack app.trace -o app.trace --codec Brotli\n\n" +
            "Output (stderr): one line with events, input and output bytes, and bytes per event.\n" +
            ExitCodes.Help)
        {
            input, output, codec, level,
        };
        verb.SetAction(CliErrors.Guard("pack", parse =>
        {
            BlockCodec chosen = parse.GetValue(codec);
            int chosenLevel = parse.GetValue(level);
            (int min, int max) = TraceWriterOptions.LevelRange(chosen);
            if (chosenLevel < min || chosenLevel > max)
            {
                throw CliException.Usage(string.Create(CultureInfo.InvariantCulture,
                    $"--level {chosenLevel}: {chosen} accepts {min} to {max}{(chosen == BlockCodec.Deflate ? " (-1 fastest, 1 optimal, 2 smallest, 0 default)" : " (0 = default)")}"));
            }

            string inPath = CliPaths.Input(parse.GetValue(input)!);
            string outPath = CliPaths.OutputFile(parse.GetValue(output)!);
            var options = new TraceWriterOptions { Codec = chosen, Level = chosenLevel };
            PackResult r;
            using (var progress = new ProgressDisplay())
            {
                r = TracePacker.Pack(inPath, outPath, options, progress.For("pack"));
            }

            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ptreplay pack: {outPath}: {r.Events:N0} events, {r.InputBytes:N0} -> {r.OutputBytes:N0} bytes, {r.BytesPerEvent:F2} bytes/event{(r.Truncated ? " (input truncated: output kept truncated)" : "")}"));
            if (r.Corruption is not null)
            {
                Console.Error.WriteLine($"ptreplay pack: {r.Corruption.Message}; the output holds the {r.Events:N0} events before the damage");
                return ExitCodes.BadInput;
            }

            return ExitCodes.Ok;
        }));
        return verb;
    }
}
