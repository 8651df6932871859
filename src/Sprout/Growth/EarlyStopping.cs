using Sprout.Nn;

namespace Sprout.Growth;

/// <summary>
/// Early stopping on a monitored loss with patience; keeps a snapshot of the best weights and restores them.
/// </summary>
public sealed class EarlyStopping
{
    private readonly Module _model;
    private ParameterSnapshot? _best;
    private int _since;

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

    /// <summary>Best loss seen.</summary>
    public double BestLoss { get; private set; } = double.PositiveInfinity;

    /// <summary>Epoch (0-based, in calls to <see cref="Update"/>) of the best loss, −1 before the first.</summary>
    public int BestEpoch { get; private set; } = -1;

    /// <summary>Calls so far.</summary>
    public int Epochs { get; private set; }

    /// <summary>Records the loss after an epoch; snapshots the weights on improvement. Returns true when training should stop.</summary>
    public bool Update(double loss)
    {
        if (loss < BestLoss - MinDelta)
        {
            BestLoss = loss;
            BestEpoch = Epochs;
            _best = new ParameterSnapshot(_model);
            _since = 0;
        }
        else _since++;
        Epochs++;
        return _since >= Patience;
    }

    /// <summary>Puts the best weights back (no-op before the first update).</summary>
    public void RestoreBest() => _best?.Restore();
}
