namespace Sprout.Growth;

/// <summary>
/// GradMax (Evci et al. 2022, <see cref="GradMaxExtender"/>) as a config: JSON
/// <c>{"type": "gradmax", "epsilon": 0, "scale": 0.5, "meanNorm": false, "batches": 4, "batchSize": 128}</c>. Preset: gradmax.
/// </summary>
/// <param name="Epsilon">
/// Norm of each new neuron's incoming weight vector: 0 (the default, GradMax) = zero incoming weights, so the function
/// is unchanged at insertion; ε &gt; 0 = a U[0, 1) vector normalised to norm ε (the reference code's "AddRandom").
/// Biases are always 0.
/// </param>
/// <param name="Scale">
/// Norm of each new neuron's outgoing weight vector (a unit singular vector times this), default 0.5; with
/// <paramref name="MeanNorm"/> it is relative to the mean outgoing norm of the existing neurons.
/// </param>
/// <param name="MeanNorm">False (the default): outgoing norm = <paramref name="Scale"/>; true: Scale × the mean norm of the existing neurons' outgoing vectors.</param>
/// <param name="Batches">Training batches whose mean gradient forms the auxiliary gradient (the reference code uses 1).</param>
/// <param name="BatchSize">Samples per batch (drawn without replacement from the training set).</param>
public sealed record GradMaxConfig(double Epsilon = 0, double Scale = 0.5, bool MeanNorm = false, int Batches = 4, int BatchSize = 128) : ExtenderConfig
{
    /// <summary>The largest accepted <see cref="Epsilon"/> and <see cref="Scale"/>.</summary>
    public const double MaxNorm = 100;

    /// <summary>The largest accepted <see cref="Batches"/> and <see cref="BatchSize"/>.</summary>
    public const int MaxBatches = 100_000;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(Epsilon >= 0 && Epsilon <= MaxNorm)) throw new ArgumentException($"gradmax: epsilon must be in 0…{MaxNorm}, got {Epsilon}");
        if (!(Scale > 0 && Scale <= MaxNorm)) throw new ArgumentException($"gradmax: scale must be in (0, {MaxNorm}], got {Scale}");
        if (Batches < 1 || Batches > MaxBatches) throw new ArgumentException($"gradmax: batches must be in 1…{MaxBatches}, got {Batches}");
        if (BatchSize < 1 || BatchSize > MaxBatches) throw new ArgumentException($"gradmax: batchSize must be in 1…{MaxBatches}, got {BatchSize}");
    }

    /// <inheritdoc/>
    protected override Extender Create() => new GradMaxExtender(Epsilon, Scale, MeanNorm, Batches, BatchSize, Label);
}
