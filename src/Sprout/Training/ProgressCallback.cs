namespace Sprout.Training;

/// <summary>Progress of an epoch, for a progress bar.</summary>
/// <param name="Epoch">Epoch (0-based).</param>
/// <param name="Batch">Batches done in the epoch (1-based: 1 after the first).</param>
/// <param name="Batches">Batches in the epoch.</param>
/// <param name="Loss">Running mean loss of the epoch.</param>
/// <param name="Accuracy">Running accuracy of the epoch (NaN when the loss has none).</param>
public readonly record struct Progress(int Epoch, int Batch, int Batches, double Loss, double Accuracy);

/// <summary>Reports the running loss and accuracy every <see cref="Every"/> batches and after the last batch of an epoch.</summary>
public sealed class ProgressCallback : ITrainingCallback
{
    private readonly Action<Progress> _report;

    /// <summary>Calls <paramref name="report"/> every <paramref name="every"/> batches (and at each epoch's last).</summary>
    public ProgressCallback(Action<Progress> report, int every = 1)
    {
        _report = report ?? throw new ArgumentNullException(nameof(report));
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), "must be ≥ 1");
        Every = every;
    }

    /// <summary>Batches between reports.</summary>
    public int Every { get; }

    /// <inheritdoc/>
    public void OnStepEnd(Trainer trainer, in StepEnd step)
    {
        if (step.Batch < 0) return;
        int done = step.Batch + 1;
        if (done % Every == 0 || done == step.Batches)
            _report(new Progress(step.Epoch, done, step.Batches, step.Running.Loss, step.Running.Accuracy));
    }
}
