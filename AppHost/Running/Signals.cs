using System.Runtime.InteropServices;

namespace Broker.AppHost.Running;

/// <summary>SIGTERM to a child (Process has no call for it): ASP.NET Core and redis-server both stop gracefully on it.</summary>
internal static partial class Signals
{
    private const int SigTerm = 15;

    public static bool Terminate(int pid) => !OperatingSystem.IsWindows() && Kill(pid, SigTerm) == 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
