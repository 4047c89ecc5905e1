namespace Broker.Ctl.Client;

/// <summary>Why a command failed, and the exit code that says so: 1 the broker refused, 2 bad input, 3 a service could not be reached.</summary>
public sealed class CtlException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
