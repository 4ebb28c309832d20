namespace PtReplay.Traces.Stacks;

/// <summary>
/// The call stacks of a trace recorded with <c>record --stacks</c>, de-duplicated: every allocating event
/// carries <see cref="AllocEvent.Stack"/>, an id into this table (0 = no stack recorded), and the table holds
/// each id's return addresses, innermost frame first, plus the executable mappings they fall in.
/// <para>Invariants: ids are 1, 2, 3, …; a stack id carried by an event a <see cref="TraceReader"/> has
/// delivered is defined here by the time the event is delivered, and <see cref="Modules"/> then holds every
/// mapping that the defined stacks' frames were recorded in. A trace recorded without stacks has an empty
/// table.</para>
/// </summary>
public sealed class StackTable
{
    private readonly List<ulong[]> _frames = [];
    private readonly List<ModuleMapping> _modules = [];

    /// <summary>Number of stacks defined (the largest id).</summary>
    public int Count => _frames.Count;

    /// <summary>The executable mappings known so far, in the order they were recorded.</summary>
    public IReadOnlyList<ModuleMapping> Modules => _modules;

    /// <summary>The return addresses of stack <paramref name="id"/> (1..<see cref="Count"/>), innermost first.</summary>
    public IReadOnlyList<ulong> Frames(int id)
    {
        if (id < 1 || id > _frames.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, $"stack ids run from 1 to {_frames.Count}");
        }

        return _frames[id - 1];
    }

    /// <summary>Defines the next stack id (returned) with <paramref name="frames"/>, innermost first.</summary>
    public int Add(ulong[] frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        _frames.Add(frames);
        return _frames.Count;
    }

    /// <summary>Records an executable mapping.</summary>
    public void AddModule(ModuleMapping module)
    {
        ArgumentNullException.ThrowIfNull(module);
        _modules.Add(module);
    }

    /// <summary>The mapping that <paramref name="address"/> falls in, or null (the newest mapping wins when a range was reused).</summary>
    public ModuleMapping? ModuleOf(ulong address)
    {
        for (int i = _modules.Count - 1; i >= 0; i--)
        {
            if (_modules[i].Contains(address))
            {
                return _modules[i];
            }
        }

        return null;
    }
}
