namespace Sprout.Training;

/// <summary>
/// Raised when the loss stops being a finite number. The check runs before the backward pass, so the model's weights
/// are those before the bad step and the last good state on disk is untouched.
/// </summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
