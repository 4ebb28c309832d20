using Microsoft.Diagnostics.Tracing;

namespace PtReplay.Traces.Import;

/// <summary>
/// Maps LTTng event names onto TraceEvent events for <see cref="CtfTraceEventSource"/> (which only dispatches
/// the CTF events some parser maps, through EnumerateCtfEventMappings): the six <c>lttng_ust_libc:*</c> events
/// to ids 1-6 (<see cref="LttngLibcEventKind"/> + <see cref="FirstEventId"/>), and every other event name the
/// trace's metadata declares to the <see cref="LttngLibcEventKind.Other"/> id, so they are counted, not lost.
/// <para>Invariant: the names are known before the base constructor runs (it registers the parser with the
/// source, which enumerates the mappings at once), hence the field initializer.</para>
/// </summary>
/// <param name="source">The CTF source to attach to.</param>
/// <param name="otherEventNames">The metadata's event names that are not libc calls.</param>
public sealed class LttngLibcTraceEventParser(TraceEventSource source, IReadOnlyCollection<string> otherEventNames)
    : TraceEventParser(source)
{
    /// <summary>Provider name of the mapped events (LTTng's provider name).</summary>
    public const string ProviderName = "lttng_ust_libc";

    /// <summary>Event id of <see cref="LttngLibcEventKind.Other"/>; a libc kind's id is this plus its value.</summary>
    public const int FirstEventId = 1;

    /// <summary>A fixed id for the mapped provider (TraceEvent keys templates by provider GUID and event id).</summary>
    public static readonly Guid ProviderGuid = new("5d1a6c2e-7b0f-4c86-9d7e-3f2a1b4c5e60");

    private static readonly LttngLibcEventKind[] Kinds = Enum.GetValues<LttngLibcEventKind>();

    private readonly IReadOnlyCollection<string> _otherEventNames = otherEventNames ?? [];

    /// <summary>Called for every mapped event (libc calls and the others), in time order.</summary>
    public event Action<LttngLibcTraceData> Event
    {
        add
        {
            foreach (LttngLibcEventKind kind in Kinds)
            {
                source.RegisterEventTemplate(new LttngLibcTraceData(value, kind));
            }
        }

        remove
        {
            foreach (LttngLibcEventKind kind in Kinds)
            {
                source.UnregisterEventTemplate(value, (int)kind + FirstEventId, ProviderGuid);
            }
        }
    }

    /// <summary>The LTTng event name of <paramref name="kind"/> ("lttng_ust_libc:malloc", ...).</summary>
    public static string EventName(LttngLibcEventKind kind) => kind switch
    {
        LttngLibcEventKind.Malloc => "lttng_ust_libc:malloc",
        LttngLibcEventKind.Calloc => "lttng_ust_libc:calloc",
        LttngLibcEventKind.Realloc => "lttng_ust_libc:realloc",
        LttngLibcEventKind.Free => "lttng_ust_libc:free",
        LttngLibcEventKind.Memalign => "lttng_ust_libc:memalign",
        LttngLibcEventKind.PosixMemalign => "lttng_ust_libc:posix_memalign",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a libc call"),
    };

    /// <summary>The libc call an LTTng event name stands for (Other for any other name).</summary>
    public static LttngLibcEventKind KindOf(string eventName) =>
        Kinds.Skip(1).FirstOrDefault(k => EventName(k) == eventName);

    /// <inheritdoc/>
    protected override string GetProviderName() => ProviderName;

    /// <inheritdoc/>
    protected override IEnumerable<CtfEventMapping> EnumerateCtfEventMappings()
    {
        foreach (LttngLibcEventKind kind in Kinds.Skip(1))
        {
            yield return new CtfEventMapping(EventName(kind), ProviderGuid, 0, (int)kind + FirstEventId, 0);
        }

        foreach (string name in _otherEventNames)
        {
            yield return new CtfEventMapping(name, ProviderGuid, 0, (int)LttngLibcEventKind.Other + FirstEventId, 0);
        }
    }

    /// <inheritdoc/>
    protected override void EnumerateTemplates(Func<string, string, EventFilterResponse>? eventsToObserve, Action<TraceEvent> callback)
    {
        foreach (LttngLibcEventKind kind in Kinds)
        {
            var template = new LttngLibcTraceData(null, kind);
            if (eventsToObserve is null || eventsToObserve(template.ProviderName, template.EventName) == EventFilterResponse.AcceptEvent)
            {
                callback(template);
            }
        }
    }
}
