using Sprout.Nn;

namespace Sprout.Training;

/// <summary>The state of an <see cref="EarlyStopping"/>, everything a checkpoint needs to continue it.</summary>
/// <param name="BestLoss">Best monitored loss so far (+∞ before the first).</param>
/// <param name="BestEpoch">Epoch (0-based, counted in updates) of the best loss, −1 before the first.</param>
/// <param name="Epochs">Updates so far.</param>
/// <param name="EpochsSinceBest">Updates since the last improvement.</param>
/// <param name="Best">The weights at the best loss, or null before the first.</param>
public sealed record EarlyStoppingState(double BestLoss, int BestEpoch, int Epochs, int EpochsSinceBest, ParameterSnapshot? Best);

/// <summary>
/// Early stopping on a monitored loss with patience: keeps a snapshot of the best weights and restores them. As a
/// training callback it monitors the validation loss after each epoch (the training loss without a validation set),
/// sets <see cref="Trainer.ShouldStop"/> when patience runs out, and restores the best weights when
/// <see cref="Trainer.Fit"/> ends normally (not when it was interrupted, so a resumed run continues where it was).
/// </summary>
public sealed class EarlyStopping : ITrainingCallback
{
    private readonly Module _model;

    /// <summary>Watches <paramref name="model"/>.</summary>
    public EarlyStopping(Module model, int patience, double minDelta = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (patience < 1) throw new ArgumentOutOfRangeException(nameof(patience), "patience must be ≥ 1");
        _model = model;
        Patience = patience;
        MinDelta = minDelta;
    }

    /// <summary>Epochs without improvement tolerated.</summary>
    public int Patience { get; }

    /// <summary>Smallest decrease that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>Whether the best weights are put back when training ends normally (default true).</summary>
    public bool RestoreBestWeights { get; init; } = true;

    /// <summary>Best loss seen.</summary>
    public double BestLoss { get; private set; } = double.PositiveInfinity;

    /// <summary>Epoch (0-based, in calls to <see cref="Update"/>) of the best loss, −1 before the first.</summary>
    public int BestEpoch { get; private set; } = -1;

    /// <summary>Calls so far.</summary>
    public int Epochs { get; private set; }

    /// <summary>Calls since the last improvement.</summary>
    public int EpochsSinceBest { get; private set; }

    /// <summary>The weights at the best loss, or null before the first update.</summary>
    public ParameterSnapshot? Best { get; private set; }

    /// <summary>Whether patience has run out.</summary>
    public bool Stopped => EpochsSinceBest >= Patience;

    /// <summary>The current state (the snapshot is shared, not copied: it never changes once taken).</summary>
    public EarlyStoppingState State => new(BestLoss, BestEpoch, Epochs, EpochsSinceBest, Best);

    /// <summary>Continues from a saved state (e.g. after a resume).</summary>
    public void Restore(EarlyStoppingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Epochs < 0 || state.EpochsSinceBest < 0 || state.EpochsSinceBest > state.Epochs || state.BestEpoch >= state.Epochs)
            throw new ArgumentException("inconsistent early-stopping state");
        BestLoss = state.BestLoss;
        BestEpoch = state.BestEpoch;
        Epochs = state.Epochs;
        EpochsSinceBest = state.EpochsSinceBest;
        Best = state.Best;
    }

    /// <summary>Records the loss after an epoch; snapshots the weights on improvement. Returns true when training should stop.</summary>
    public bool Update(double loss)
    {
        if (loss < BestLoss - MinDelta)
        {
            BestLoss = loss;
            BestEpoch = Epochs;
            Best = new ParameterSnapshot(_model);
            EpochsSinceBest = 0;
        }
        else EpochsSinceBest++;
        Epochs++;
        return Stopped;
    }

    /// <summary>Puts the best weights back (no-op before the first update).</summary>
    public void RestoreBest() => Best?.Restore();

    /// <inheritdoc/>
    public void OnEpochEnd(Trainer trainer, in EpochEnd epoch)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (Update(epoch.Validation?.Loss ?? epoch.Train.Loss)) trainer.ShouldStop = true;
    }

    /// <inheritdoc/>
    public void OnTrainEnd(Trainer trainer, bool interrupted)
    {
        if (!interrupted && RestoreBestWeights) RestoreBest();
    }
}
