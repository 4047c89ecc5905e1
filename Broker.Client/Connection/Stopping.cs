namespace Broker.Client.Connection;

/// <summary>Waiting for a client's background tasks as it closes.</summary>
internal static class Stopping
{
    /// <summary>Waits for <paramref name="task"/>, whatever it ends with: what went wrong was already told to its records.</summary>
    public static async Task Quietly(Task? task)
    {
        if (task is null)
        {
            return;
        }
        try
        {
            await task;
        }
        catch (Exception)
        {
            // Closing: its outcome was reported where it happened.
        }
    }
}
