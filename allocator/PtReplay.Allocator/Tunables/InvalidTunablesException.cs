namespace PtReplay.Allocator.Tunables;

/// <summary>A tunables string given by a user names an unknown tunable, has no value, or a value outside the accepted range.</summary>
public sealed class InvalidTunablesException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InvalidTunablesException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public InvalidTunablesException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public InvalidTunablesException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
