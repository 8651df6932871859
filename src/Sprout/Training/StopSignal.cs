namespace Sprout.Training;

/// <summary>
/// A stop request (e.g. from Ctrl+C), safe to set from any thread. Trainers check it at every batch boundary; one
/// signal can be shared by all the trainers of a run.
/// </summary>
public sealed class StopSignal
{
    private volatile bool _requested;

    /// <summary>Whether a stop was requested.</summary>
    public bool IsRequested => _requested;

    /// <summary>Requests a stop at the next batch boundary.</summary>
    public void Request() => _requested = true;

    /// <summary>Withdraws the request (e.g. before resuming).</summary>
    public void Clear() => _requested = false;
}
