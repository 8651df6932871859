namespace Sprout.Training;

/// <summary>
/// Raised when training stopped on request (Ctrl+C, <see cref="StopSignal.Request"/>) at a safe point; the message
/// says where, and whether the state there was saved.
/// </summary>
/// <param name="message">Where the run stopped.</param>
/// <param name="saved">Whether a checkpoint of the stopping point was handed to the caller's save hook.</param>
public sealed class TrainingInterruptedException(string message, bool saved) : Exception(message)
{
    /// <summary>Whether a checkpoint of the stopping point was handed to the caller's save hook.</summary>
    public bool Saved { get; } = saved;
}
