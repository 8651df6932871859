namespace Sprout.Training;

/// <summary>
/// Calls a save delegate every <see cref="EveryEpochs"/> finished epochs and/or every <see cref="EverySteps"/> steps
/// (what is written and how is the delegate's business). When it runs, <see cref="Trainer.Epoch"/>,
/// <see cref="Trainer.NextBatch"/>, <see cref="Trainer.GlobalStep"/> and <see cref="Trainer.Running"/> say where a
/// resumed run must continue. Add it after the callbacks whose state it saves (e.g. early stopping), so their state is
/// current.
/// </summary>
public sealed class CheckpointCallback : ITrainingCallback
{
    private readonly Action<Trainer> _save;

    /// <summary>Saves through <paramref name="save"/>; 0 turns a trigger off.</summary>
    public CheckpointCallback(Action<Trainer> save, int everyEpochs = 1, int everySteps = 0)
    {
        _save = save ?? throw new ArgumentNullException(nameof(save));
        if (everyEpochs < 0 || everySteps < 0) throw new ArgumentOutOfRangeException(nameof(everyEpochs), "intervals must be ≥ 0");
        EveryEpochs = everyEpochs;
        EverySteps = everySteps;
    }

    /// <summary>Finished epochs between saves (0 = never at epoch ends).</summary>
    public int EveryEpochs { get; }

    /// <summary>Steps between saves (0 = never mid-epoch).</summary>
    public int EverySteps { get; }

    /// <inheritdoc/>
    public void OnStepEnd(Trainer trainer, in StepEnd step)
    {
        // the last batch of an epoch is saved by the epoch end, with the epoch counted
        if (EverySteps > 0 && step.GlobalStep % EverySteps == 0 && step.Batch + 1 < step.Batches) _save(trainer);
    }

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, in EpochEnd epoch)
    {
        if (EveryEpochs > 0 && (epoch.Epoch + 1) % EveryEpochs == 0) _save(trainer);
    }
}
