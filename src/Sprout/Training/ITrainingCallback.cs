namespace Sprout.Training;

/// <summary>What a <see cref="Trainer"/> reports after each optimizer step.</summary>
/// <param name="Epoch">Epoch the step belongs to (0-based, <see cref="Trainer.Epoch"/> while it runs).</param>
/// <param name="Batch">Index of the batch in its epoch (−1 for a step outside an epoch, <see cref="Trainer.Step"/>).</param>
/// <param name="Batches">Batches in the epoch (0 outside an epoch).</param>
/// <param name="Loss">This batch's loss.</param>
/// <param name="Rows">Samples in this batch.</param>
/// <param name="Running">The epoch's accumulated statistics so far, this batch included.</param>
/// <param name="GlobalStep">Steps completed, this one included.</param>
public readonly record struct StepEnd(int Epoch, int Batch, int Batches, float Loss, int Rows, EpochStats Running, long GlobalStep);

/// <summary>What a <see cref="Trainer"/> reports after each finished epoch.</summary>
/// <param name="Epoch">The epoch that finished (0-based).</param>
/// <param name="Train">Training loss and accuracy accumulated during the epoch.</param>
/// <param name="Validation">Evaluation on <see cref="Trainer.Validation"/> after the epoch, or null without one.</param>
/// <param name="LearningRate">The optimizer's learning rate during the epoch (NaN without an optimizer).</param>
/// <param name="Seconds">Wall time of the epoch (validation included).</param>
public readonly record struct EpochEnd(int Epoch, EpochStats Train, EpochStats? Validation, double LearningRate, double Seconds);

/// <summary>
/// Hooks into a <see cref="Trainer"/>'s loop; every method has an empty default, implement only what you need. They run
/// in the order the callbacks were added. To end <see cref="Trainer.Fit"/> after the current epoch, set
/// <see cref="Trainer.ShouldStop"/>.
/// </summary>
public interface ITrainingCallback
{
    /// <summary>Before the first batch of an epoch (also when the epoch resumes at a later batch).</summary>
    void OnEpochStart(Trainer trainer)
    {
    }

    /// <summary>After each optimizer step (keep it cheap: it runs on the hot path).</summary>
    void OnStepEnd(Trainer trainer, in StepEnd step)
    {
    }

    /// <summary>After each finished epoch (and its validation pass). <see cref="Trainer.Epoch"/> already counts it.</summary>
    void OnEpochEnd(Trainer trainer, in EpochEnd epoch)
    {
    }

    /// <summary>When <see cref="Trainer.Fit"/> ends: normally (<paramref name="interrupted"/> false) or by <see cref="Trainer.RequestStop"/>.</summary>
    void OnTrainEnd(Trainer trainer, bool interrupted)
    {
    }
}
