using System.CommandLine;
using System.Globalization;
using PtReplay.Replay.Parity;
using PtReplay.Allocator.Tunables;
using PtReplay.Traces;
using PtReplay.Traces.ProcessTrees;

namespace PtReplay.Cli.Commands;

/// <summary>
/// `ptreplay verify TRACE`: replays a recorded trace into the C# ptmalloc model and compares every returned
/// address with the recorded one: the trace is prepared and replayed as by `replay --engine sim`, with the sim
/// engine's address check (<see cref="TraceVerifier"/>, <see cref="AddressCheck"/>).
/// Exit codes: <see cref="ExitCodes"/> (0 every allocation identical, 1 divergence or the model stopped like glibc
/// would abort, 3 the trace is unreadable or has no brk0).
/// </summary>
public static class VerifyCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var trace = new Argument<FileInfo>("TRACE") { Description = "The trace to verify (from `ptreplay record`)." };
        var tunables = new Option<string?>("--tunables")
        {
            Description = "Override the recorded malloc environment with these glibc tunables (e.g. glibc.malloc.tcache_count=0). " +
                "Default: GLIBC_TUNABLES and MALLOC_* from the trace header, as the recorded process had them.",
        };
        var command = new Command("verify",
            "Replay a trace into the C# ptmalloc model and compare every returned address with the recorded one: " +
            "main-heap chunks by offset from brk0, chunks of other arenas by (arena creation order, heap index, offset in " +
            "the heap), mmapped chunks by their offset in the page. Prints the first divergence with its event index and the " +
            "model's state around it (top, bins, neighbouring chunks) and ends with `parity: M/N allocations identical`. " +
            "A forked child (its header links it to its parent's trace) starts from the heap it inherited: the model " +
            "replays the parent's events up to the fork (and its parent's, for a fork of a fork child), forks as glibc " +
            "does (only the forking thread survives; with several threads, the other arenas go onto the free list), " +
            "then the child's; the parent's part is reported on its own line. Without the parent's trace the child " +
            "is replayed from an empty heap, with a note. " +
            "The run is `replay --engine sim --check-addresses` without the series: the same preparation and event rules " +
            "(each thread's exit replayed where glibc ran it; frees and reallocs of pointers the trace never returned, and double " +
            "frees, skipped and counted; a realloc of such a pointer that returned memory replayed as an allocation).\n\n" +
            "Examples:\n" +
            "  ptreplay verify py.trace\n" +
            "  ./run-bench.sh verify sqlite.trace --tunables glibc.malloc.tcache_count=0\n\n" +
            "A divergence, or a call glibc would have aborted on, exits 1.\n" +
            ExitCodes.Help)
        {
            trace, tunables,
        };
        command.SetAction(CliErrors.Guard("verify", parse =>
        {
            string? t = parse.GetValue(tunables);
            MallocTunables? checkedTunables = t is null ? null : MallocTunables.ParseChecked(t);
            string file = CliPaths.Input(parse.GetValue(trace)!.FullName);
            using var reader = TraceReader.Open(file);
            using var progress = new ProgressDisplay();
            return Run(reader, checkedTunables, Console.Out, Console.Error, progress);
        }));
        return command;
    }

    /// <summary>Verifies an open trace, writing the report; returns the exit code.</summary>
    public static int Run(TraceReader reader, MallocTunables? tunables, TextWriter output, TextWriter progress, ProgressDisplay? display = null)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(progress);
        var inv = CultureInfo.InvariantCulture;
        if (reader.Header.Brk0 == 0)
        {
            progress.WriteLine($"ptreplay verify: {reader.Path} has no brk0 in its header; heap offsets cannot be compared (record it with `ptreplay record`)");
            return ExitCodes.BadInput;
        }

        InheritedHeap? inherited = InheritedHeap.Find(reader.Path, reader.Header, out string? missing);
        if (missing is not null)
        {
            progress.WriteLine($"ptreplay verify: {reader.Path} is a fork child, but {missing}: replaying it from an empty heap, so blocks it inherited are unknown");
        }

        if (inherited is not null)
        {
            foreach (ForkPoint stage in inherited.Stages)
            {
                progress.WriteLine(string.Create(inv,
                    $"verify: replaying {Path.GetFileName(stage.ParentPath)} up to its fork ({stage.ParentEvents:N0} events)"));
            }
        }

        AddressParity parity = TraceVerifier.Run(reader, inherited, tunables,
            display is null ? null : n =>
            {
                display.SetTotal(n);
                display.Count("prepare", n);
            },
            display is null ? null : fraction => display.Fraction("verify", fraction));
        display?.Finish();
        ParityReport report = parity.Report;
        if (inherited is not null && parity.Inherited is { } prefix)
        {
            output.WriteLine(string.Create(inv,
                $"inherited heap: {Path.GetFileName(inherited.Parent.ParentPath)} up to its fork (event {inherited.Parent.ParentEvents:N0}); " +
                $"{prefix.Events:N0} parent events replayed first, {prefix.Summary}"));
            if (prefix.Abort is not null || prefix.First is not null)
            {
                output.WriteLine("  the parent's heap diverged before the fork: verify the parent's trace first");
            }

            if (prefix.Abort is { } early)
            {
                // The model stopped inside the inherited heap's events: the child's own events were not replayed.
                output.WriteLine(string.Create(inv,
                    $"  the model stopped there (glibc would abort at its event {early.EventIndex}: {early.Message}); the child's events were not replayed"));
                output.WriteLine(report.Summary);
                return 1;
            }
        }

        if (reader.IsTruncated)
            progress.WriteLine(string.Create(inv, $"verify: trace truncated at byte {reader.TruncatedAtOffset}; verified the events before it"));
        if (report.First is { } d)
        {
            output.WriteLine(string.Create(inv, $"first divergence at event {d.EventIndex}: {d.Event}"));
            output.WriteLine("  " + d.Reason);
            output.Write(d.ModelState);
        }
        if (report.Abort is { } a)
            output.WriteLine(string.Create(inv, $"glibc would abort at event {a.EventIndex}: {a.Message}"));
        if (report.UnknownPointers > 0)
            output.WriteLine(string.Create(inv, $"{report.UnknownPointers} free/realloc of pointers the trace never returned (skipped)"));
        if (report.SkippedEvents > 0)
            output.WriteLine(string.Create(inv, $"{report.SkippedEvents} events on a thread after its exit or beyond the thread limit (skipped)"));
        output.WriteLine(report.Summary);
        return report.FullParity ? 0 : 1;
    }
}
