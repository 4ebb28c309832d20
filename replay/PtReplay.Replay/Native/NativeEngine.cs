using System.Diagnostics;
using System.Globalization;
using System.Text;
using PtReplay.Replay.Metrics;
using PtReplay.Replay.Preparation;
using PtReplay.Traces;

namespace PtReplay.Replay.Native;

/// <summary>
/// Runs ptreplay-native on a prepared trace for one engine (glibc, or a preloaded allocator) in a
/// clean environment and turns its results file into an <see cref="EngineResult"/>.
/// Never throws for an engine problem (missing library, crash): the result carries the error.
/// </summary>
public static class NativeEngine
{
    private static readonly string[] AllocatorStatsSources =
    [
        "", "glibc mallinfo2: arena + hblkhd", "jemalloc mallctl stats.mapped",
        "tcmalloc generic.heap_size - tcmalloc.pageheap_unmapped_bytes", "mimalloc mi_process_info current commit",
    ];

    /// <summary>RSS source of every native engine.</summary>
    public const string RssSource =
        "/proc/self/statm (resident - shared) pages, less the harness's own (fixed before the first call; the allocator's pages then are counted)";

    /// <summary>Footprint (committed) source of every native engine.</summary>
    public const string FootprintSource =
        "/proc/self/statm data pages (program break + writable private mappings), less the harness's own";

    /// <summary>Address-space source of every native engine.</summary>
    public const string AddressSpaceSource =
        "/proc/self/statm size pages (every mapping, PROT_NONE reservations included), less the harness's own";

    /// <summary>
    /// Replays <paramref name="trace"/> into <paramref name="engine"/>. The results file goes to
    /// <paramref name="resultsPath"/> and stays there (tests read its address log).
    /// <paramref name="mallocEnvironment"/> (GLIBC_TUNABLES, MALLOC_*) is the only environment besides LD_PRELOAD.
    /// </summary>
    public static (EngineResult Result, NativeResults? Raw) Run(
        string engine, PreparedTrace trace, ReplayOptions options, string resultsPath,
        IReadOnlyDictionary<string, string>? mallocEnvironment)
    {
        var (preload, libError) = AllocatorLibraries.Resolve(engine, options.AllocatorLibraryDirectories);
        if (libError is not null)
        {
            // A known allocator that is not installed is skipped (the message names its package); an unknown name is an error.
            return (AllocatorLibraries.Library(engine) is null ? EngineResult.Failed(engine, libError) : EngineResult.Skip(engine, libError), null);
        }

        string? replayer = NativeArtifacts.TryFind(NativeArtifacts.Replayer);
        if (replayer is null)
        {
            return (EngineResult.Failed(engine, "ptreplay-native not found: build the solution (`dotnet build bench.sln`)"), null);
        }

        var psi = new ProcessStartInfo(replayer)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        psi.ArgumentList.Add(trace.Path);
        psi.ArgumentList.Add(resultsPath);
        psi.ArgumentList.Add("--mode");
        psi.ArgumentList.Add(options.Threads == ThreadMode.Serial ? "serial" : "concurrent");
        psi.ArgumentList.Add("--touch");
        psi.ArgumentList.Add(options.Touch.ToString().ToLowerInvariant());
        psi.ArgumentList.Add("--allocator");
        psi.ArgumentList.Add(engine == "glibc" ? "glibc" : "other");
        if (options.NullAllocator)
        {
            psi.ArgumentList.Add("--null-allocator");
        }

        if (options.LogAddresses)
        {
            psi.ArgumentList.Add("--log-addresses");
        }

        if (options.NoTiming)
        {
            psi.ArgumentList.Add("--no-timing");
        }

        if (options.Pace.IsPaced)
        {
            psi.ArgumentList.Add("--pace");
            psi.ArgumentList.Add(options.Pace.Factor.ToString("R", CultureInfo.InvariantCulture));
        }

        // Clean environment: nothing that moves or reconfigures the heap except what we set.
        psi.Environment.Clear();
        // Symbols bound at load time: lazy binding would write the harness's GOT pages during the replay.
        psi.Environment["LD_BIND_NOW"] = "1";
        if (preload is not null)
        {
            psi.Environment["LD_PRELOAD"] = preload;
        }

        foreach (var (name, value) in mallocEnvironment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        File.Delete(resultsPath);
        using var process = new Process { StartInfo = psi };
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            }
        };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (EngineResult.Failed(engine, $"cannot start {replayer}: {ex.Message}"), null);
        }

        process.BeginErrorReadLine();
        process.StandardOutput.ReadToEndAsync();
        while (!process.WaitForExit(500))
        {
            if (options.Progress is not null && trace.OpCount > 0)
            {
                options.Progress(engine, Math.Min(1.0, NativeResults.TryReadProgress(resultsPath) / (double)trace.OpCount));
            }
        }

        process.WaitForExit();
        string err;
        lock (stderr)
        {
            err = stderr.ToString().Trim();
        }

        if (process.ExitCode != 0)
        {
            string how = process.ExitCode > 128
                ? string.Create(CultureInfo.InvariantCulture, $"killed by signal {process.ExitCode - 128}")
                : string.Create(CultureInfo.InvariantCulture, $"exit code {process.ExitCode}");
            return (EngineResult.Failed(engine, $"ptreplay-native failed ({how}){(err.Length > 0 ? ": " + err : "")}"), null);
        }

        NativeResults raw;
        try
        {
            raw = NativeResults.Read(resultsPath);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            return (EngineResult.Failed(engine, ex.Message), null);
        }

        return (ToResult(engine, trace, raw, options.NoTiming), raw);
    }

    private static EngineResult ToResult(string engine, PreparedTrace trace, NativeResults raw, bool noTiming)
    {
        NativeResultsHeader h = raw.Header;
        var points = new List<SeriesPoint>(raw.Samples.Count);
        for (int i = 0; i < raw.Samples.Count; i++)
        {
            NativeSample s = raw.Samples[i];
            LiveSample live = trace.Samples[i];
            points.Add(new SeriesPoint(live.Seq, live.LiveBytes, s.Committed, s.Rss)
            {
                TimestampNs = live.TimestampNs,
                AddressSpaceBytes = s.AddressSpace,
                AllocatorBytes = s.AllocatorMapped == NativeSample.NotTaken || h.AllocatorStatsSource == 0 ? null : s.AllocatorMapped,
            });
        }

        int source = (int)Math.Min(h.AllocatorStatsSource, (ulong)AllocatorStatsSources.Length - 1);
        var extra = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["replay_nulls"] = h.ReplayNulls,
            ["extra_frees"] = h.ExtraFrees,
            ["cross_thread_ops"] = h.CrossThreadOps,
            ["cross_thread_waits"] = h.CrossThreadWaits,
            ["empty_slot_frees"] = h.EmptySlotFrees,
            ["tsc_per_ns"] = h.TscPerNs,
            ["timer_floor_ns"] = h.TimerFloorCycles / Math.Max(h.TscPerNs, 1e-9),
            ["ns_per_call"] = h.Calls == 0 ? 0 : (double)h.WallNs / h.Calls,
            ["heap_bytes_brk"] = h.BrkEnd - h.Brk0,
            ["samples"] = h.SamplesTaken,
            ["threads_peak"] = h.ThreadsPeak,
            ["replayer_peak_rss_bytes"] = h.ReplayerPeakRss,
            ["thread_starts"] = h.ThreadStarts,
            ["thread_start_ns"] = h.ThreadStartNs,
            ["elapsed_ns"] = h.ElapsedNs,
            ["allocator_at_start_rss_bytes"] = h.AllocatorAtBaseline.Rss,
            ["allocator_at_start_footprint_bytes"] = h.AllocatorAtBaseline.Committed,
            ["harness_rss_bytes"] = h.Harness.Rss,
            ["harness_footprint_bytes"] = h.Harness.Committed,
            ["harness_address_space_bytes"] = h.Harness.AddressSpace,
        };
        if (source != 0)
        {
            extra["allocator_bytes_samples"] = h.AllocatorSamplesTaken;
        }

        if (h.PaceFactor > 0)
        {
            extra["pace_waits"] = h.PaceWaits;
            extra["pace_recorded_wait_ns"] = h.PaceRecordedWaitNs;
            extra["pace_slept_ns"] = h.PaceSleptNs;
        }

        if (engine == "glibc")
        {
            extra["mallinfo2_arena"] = h.MallinfoArena;
            extra["mallinfo2_hblkhd"] = h.MallinfoHblkhd;
            extra["mallinfo2_uordblks"] = h.MallinfoUordblks;
            extra["mallinfo2_fordblks"] = h.MallinfoFordblks;
        }

        var final = new SeriesPoint(trace.OpCount, trace.FinalLiveBytes, h.Final.Committed, h.Final.Rss)
        {
            TimestampNs = trace.FinalTimestampNs,
            AddressSpaceBytes = h.Final.AddressSpace,
            AllocatorBytes = source == 0 ? null : h.FinalAllocatorMapped,
        };
        var measured = new EngineMeasurement
        {
            Calls = (long)h.Calls,
            WallNs = (long)h.WallNs,
            SamplingNs = (long)h.SamplingNs,
            Pace = h.PaceFactor > 0 ? ReplayPace.FromFactor(h.PaceFactor).ToString() : ReplayPace.Max.ToString(),
            FootprintSource = FootprintSource,
            RssSource = RssSource,
            AddressSpaceSource = AddressSpaceSource,
            AllocatorBytesSource = AllocatorStatsSources[source],
            LatencyClock = !noTiming
                ? string.Create(CultureInfo.InvariantCulture,
                    $"tsc: rdtsc in {NativeArtifacts.Replayer}, {h.TscPerNs:F4} ticks/ns calibrated against CLOCK_MONOTONIC over 30 ms")
                : ResultBuilder.NoTimingClock,
        };
        return ResultBuilder.Build(engine, trace, points, final, raw.ReadLatency(), measured, extra) with
        {
            FirstCalls = noTiming ? 0 : (long)h.FirstCalls,
            FirstCallMaxNs = noTiming || h.FirstCalls == 0 ? null : h.FirstCallMaxCycles / Math.Max(h.TscPerNs, 1e-9),
        };
    }
}
