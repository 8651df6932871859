namespace Sprout.Growth;

/// <summary>What TINY gives the neurons asked for beyond the directions with a positive first-order gain.</summary>
public enum TinySurplus
{
    /// <summary>A random incoming direction (normal, zero bias) with the mean norm of the TINY neurons' incoming weights, and zero outgoing weights: the function is unchanged and the neuron can learn.</summary>
    Random,

    /// <summary>Zero incoming and outgoing weights (with ReLU such a neuron gets no gradient until its input weights move).</summary>
    Zero,
}

/// <summary>
/// TINY (Verbockhaven et al. 2024, <see cref="TinyExtender"/>) as a config: JSON
/// <c>{"type": "tiny", "batches": 4, "batchSize": 256, "applyDelta": true, "ridge": 0.0001, "singularThreshold": 0.001,
/// "surplus": "Random", "lineSearchBatchSize": 256, "gammaMin": 0.001, "gammaMax": 1, "lineSearchPoints": 13,
/// "lineSearchExtensions": 3}</c>. Preset: tiny.
/// </summary>
/// <param name="Batches">Training batches whose statistics (S, M, N) are gathered per grown site (one forward + backward pass each).</param>
/// <param name="BatchSize">Samples per statistics batch (drawn without replacement from the training set).</param>
/// <param name="ApplyDelta">
/// True (the default, as TINY and gromo): the existing consumer weights also move by γ²·δW*, the best update of the
/// current layer (least squares of the desired update on the consumer's input); false: only neurons are added.
/// </param>
/// <param name="Ridge">Ridge added to the diagonal of both covariances before they are inverted, relative to their mean diagonal entry.</param>
/// <param name="SingularThreshold">Directions whose singular value is below this fraction of the largest are dropped (they go to <paramref name="Surplus"/>).</param>
/// <param name="Surplus">What the neurons beyond the kept directions get.</param>
/// <param name="LineSearchBatchSize">Samples of the batch on which the line search evaluates the loss.</param>
/// <param name="GammaMin">Smallest positive scale γ of the line search grid.</param>
/// <param name="GammaMax">Largest scale γ of the first grid.</param>
/// <param name="LineSearchPoints">Log-spaced grid points in [GammaMin, GammaMax] (γ = 0 is always tried too).</param>
/// <param name="LineSearchExtensions">
/// While the best γ is the top of the grid, the grid moves up one decade (×10) at most this many times (gromo's line
/// search extends without a bound).
/// </param>
public sealed record TinyConfig(
    int Batches = 4,
    int BatchSize = 256,
    bool ApplyDelta = true,
    double Ridge = 1e-4,
    double SingularThreshold = 1e-3,
    TinySurplus Surplus = TinySurplus.Random,
    int LineSearchBatchSize = 256,
    double GammaMin = 1e-3,
    double GammaMax = 1,
    int LineSearchPoints = 13,
    int LineSearchExtensions = 3) : ExtenderConfig
{
    /// <summary>The largest accepted <see cref="Batches"/>, <see cref="BatchSize"/> and <see cref="LineSearchBatchSize"/>.</summary>
    public const int MaxBatches = 100_000;

    /// <summary>The largest accepted <see cref="LineSearchPoints"/>.</summary>
    public const int MaxPoints = 1000;

    /// <summary>The largest accepted <see cref="LineSearchExtensions"/>.</summary>
    public const int MaxExtensions = 10;

    /// <summary>The largest accepted <see cref="GammaMax"/>.</summary>
    public const double MaxGamma = 1e4;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (Batches < 1 || Batches > MaxBatches) throw new ArgumentException($"tiny: batches must be in 1…{MaxBatches}, got {Batches}");
        if (BatchSize < 1 || BatchSize > MaxBatches) throw new ArgumentException($"tiny: batchSize must be in 1…{MaxBatches}, got {BatchSize}");
        if (!(Ridge > 0 && Ridge <= 1)) throw new ArgumentException($"tiny: ridge must be in (0, 1], got {Ridge}");
        if (!(SingularThreshold >= 0 && SingularThreshold < 1)) throw new ArgumentException($"tiny: singularThreshold must be in [0, 1), got {SingularThreshold}");
        if (!Enum.IsDefined(Surplus)) throw new ArgumentException($"tiny: surplus must be Random or Zero, got {Surplus}");
        if (LineSearchBatchSize < 1 || LineSearchBatchSize > MaxBatches) throw new ArgumentException($"tiny: lineSearchBatchSize must be in 1…{MaxBatches}, got {LineSearchBatchSize}");
        if (!(GammaMin > 0 && GammaMin <= GammaMax)) throw new ArgumentException($"tiny: gammaMin must be in (0, gammaMax], got {GammaMin}");
        if (!(GammaMax <= MaxGamma)) throw new ArgumentException($"tiny: gammaMax must be at most {MaxGamma}, got {GammaMax}");
        if (LineSearchPoints < 1 || LineSearchPoints > MaxPoints) throw new ArgumentException($"tiny: lineSearchPoints must be in 1…{MaxPoints}, got {LineSearchPoints}");
        if (LineSearchExtensions < 0 || LineSearchExtensions > MaxExtensions) throw new ArgumentException($"tiny: lineSearchExtensions must be in 0…{MaxExtensions}, got {LineSearchExtensions}");
    }

    /// <inheritdoc/>
    protected override Extender Create() => new TinyExtender(this);
}
