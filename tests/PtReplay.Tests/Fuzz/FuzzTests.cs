using System.Globalization;
using System.Security.Cryptography;
using CsCheck;
using PtReplay.Tests.Infrastructure;

namespace PtReplay.Tests.Fuzz;

/// <summary>
/// The fuzzing harness: CsCheck properties over mutated real recordings (the committed samples and the seeds in
/// Fuzz/Seeds: a raw multi-thread recording, glibc mtrace output and the channel files of an LTTng libc-wrapper session)
/// for the trace reader, the mtrace importer, the LTTng importer and the
/// replay's preparation. Each input must finish, and throw nothing but the documented exceptions. Half the trace
/// inputs get their CRCs recomputed after mutating, so the damage reaches the decoders, the merge and the preparation.
/// A failing input is written to the temporary folder (its path is in the failure); copy it into Fuzz/Regressions,
/// where <see cref="EveryInputThatEverFailed_NowPasses"/> replays it for good.
/// Iterations per property: PTREPLAY_FUZZ_ITERATIONS (default 300; README "Bad input" states the campaign's figures).
/// </summary>
public sealed class FuzzTests
{
    private static readonly string FuzzFolder = Path.Combine(RepoFiles.Root, "tests", "PtReplay.Tests", "Fuzz");
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(60);

    private static long Iterations =>
        long.TryParse(Environment.GetEnvironmentVariable("PTREPLAY_FUZZ_ITERATIONS"), NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0 ? n : 300;

    private static readonly byte[][] TraceSeeds =
        [.. RepoFiles.SampleTraces.Select(File.ReadAllBytes), .. Directory.GetFiles(Path.Combine(FuzzFolder, "Seeds"), "*.trace").Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];

    /// <summary>The CTF channel files of a real LTTng libc-wrapper session (sort under liblttng-ust-libc-wrapper), read with its metadata.</summary>
    private static readonly byte[][] LttngSeeds =
        [.. Directory.GetFiles(FuzzTargets.LttngSeedFolder, "channel*").Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];

    private static readonly byte[][] MtraceSeeds =
        [.. Directory.GetFiles(Path.Combine(FuzzFolder, "Seeds"), "*.mtrace").Order(StringComparer.Ordinal).Select(File.ReadAllBytes)];

    private static Gen<Mutation[]> Mutations =>
        Gen.Select(Gen.Int[0, Mutation.Kinds - 1], Gen.Int, Gen.Int[0, 255], (k, p, v) => new Mutation(k, p, v)).Array[1, 8];

    [Fact]
    public void Reader_AndPreparation_OnMutatedRecordings_ThrowOnlyDocumentedExceptions()
    {
        Assert.True(TraceSeeds.Length >= 4, "seed corpus: the samples and Fuzz/Seeds");
        Gen.Select(Gen.Int[0, TraceSeeds.Length - 1], Mutations, Gen.Bool).Sample(input =>
        {
            (int seed, Mutation[] mutations, bool fixCrcs) = input;
            byte[] bytes = Mutation.Apply(TraceSeeds[seed], mutations);
            if (fixCrcs)
            {
                Mutation.FixCrcs(bytes);
            }

            Run(bytes, ".trace", FuzzTargets.ReadTrace);
        }, iter: Iterations);
    }

    [Fact]
    public void MtraceImporter_AndPreparation_OnMutatedMtraceOutput_ThrowOnlyDocumentedExceptions()
    {
        Assert.NotEmpty(MtraceSeeds);
        Gen.Select(Gen.Int[0, MtraceSeeds.Length - 1], Mutations).Sample(input =>
        {
            (int seed, Mutation[] mutations) = input;
            Run(Mutation.Apply(MtraceSeeds[seed], mutations), ".mtrace", FuzzTargets.ImportMtrace);
        }, iter: Iterations);
    }

    [Fact]
    public void LttngImporter_AndPreparation_OnMutatedCtfChannels_ThrowOnlyDocumentedExceptions()
    {
        Assert.NotEmpty(LttngSeeds);
        Gen.Select(Gen.Int[0, LttngSeeds.Length - 1], Mutations).Sample(input =>
        {
            (int seed, Mutation[] mutations) = input;
            Run(Mutation.Apply(LttngSeeds[seed], mutations), ".lttng-channel", FuzzTargets.ImportLttngChannel);
        }, iter: Iterations / 2);
    }

    [Fact]
    public void LttngImporter_AndPreparation_OnMutatedCtfMetadata_ThrowOnlyDocumentedExceptions()
    {
        byte[] metadata = File.ReadAllBytes(Path.Combine(FuzzTargets.LttngSeedFolder, "metadata"));
        Mutations.Sample(mutations => Run(Mutation.Apply(metadata, mutations), ".lttng-metadata", FuzzTargets.ImportLttngMetadata), iter: Iterations / 4);
    }

    [Fact]
    public void EveryInputThatEverFailed_NowPasses()
    {
        string[] inputs = Directory.GetFiles(Path.Combine(FuzzFolder, "Regressions")).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(inputs);
        foreach (string input in inputs)
        {
            Func<byte[], long> target = input.EndsWith(".mtrace", StringComparison.Ordinal) ? FuzzTargets.ImportMtrace
                : input.EndsWith(".lttng-channel", StringComparison.Ordinal) ? FuzzTargets.ImportLttngChannel
                : input.EndsWith(".lttng-metadata", StringComparison.Ordinal) ? FuzzTargets.ImportLttngMetadata
                : FuzzTargets.ReadTrace;
            Run(File.ReadAllBytes(input), Path.GetExtension(input), target);
        }
    }

    /// <summary>Runs <paramref name="target"/> on one input; an undocumented exception or a hang saves the input and fails.</summary>
    private static void Run(byte[] bytes, string extension, Func<byte[], long> target)
    {
        Task<long> run = Task.Run(() => target(bytes));
        bool finished;
        try
        {
            finished = run.Wait(HangLimit);
        }
        catch (AggregateException e)
        {
            throw new InvalidOperationException($"undocumented exception on the input saved as {Save(bytes, extension)}", e.InnerException);
        }

        if (!finished)
        {
            throw new InvalidOperationException($"no result within {HangLimit.TotalSeconds} s (a hang?) on the input saved as {Save(bytes, extension)}");
        }
    }

    private static string Save(byte[] bytes, string extension)
    {
        string path = Path.Combine(Path.GetTempPath(), $"ptreplay-fuzz-failure-{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}{extension}");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
