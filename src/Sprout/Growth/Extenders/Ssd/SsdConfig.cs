namespace Sprout.Growth;

/// <summary>How <see cref="SsdExtender"/> finds each neuron's splitting direction.</summary>
public enum SsdVariant
{
    /// <summary>Splitting steepest descent (Liu et al. 2019): build each neuron's splitting matrix and eigendecompose it.</summary>
    Exact,

    /// <summary>
    /// The fast variant (Wang et al. 2019): minimise each neuron's Rayleigh quotient vᵀSv/vᵀv with RMSprop, using
    /// products S·v from the accumulated terms without forming S.
    /// </summary>
    Fast,
}

/// <summary>How the exact variant finds the smallest eigenpair of a splitting matrix.</summary>
public enum SsdEigenSolver
{
    /// <summary>Full MathNet eigendecomposition up to fan-in <see cref="SsdConfig.FullEvdMaxFanIn"/>, Lanczos above.</summary>
    Auto,

    /// <summary>Always MathNet's full symmetric eigendecomposition (<c>Evd(Symmetricity.Symmetric)</c>).</summary>
    Full,

    /// <summary>Always Lanczos with full reorthogonalisation (smallest eigenpair only; MathNet for the small tridiagonal problem).</summary>
    Lanczos,
}

/// <summary>
/// Splitting steepest descent (<see cref="SsdExtender"/>) as a config: JSON
/// <c>{"type": "ssd", "variant": "Exact", "epsilon": 0.01, "batches": 0, "batchSize": 128, "epochs": 10, "learningRate": 0.001, "solver": "Auto"}</c>.
/// Presets: ssd (exact) and ssd-fast (Rayleigh-quotient variant).
/// </summary>
/// <param name="Variant">Exact (eigendecomposition of each splitting matrix) or Fast (Rayleigh quotient minimised by RMSprop).</param>
/// <param name="Epsilon">Split step: parent += ε·v, copy −= ε·v with v the unit splitting direction (reference 0.01; 0 = pure copies).</param>
/// <param name="Batches">
/// Training batches the splitting matrices are averaged over; 0 (the default) = the reference rule, a tenth of an epoch
/// (⌊⌈samples / batch size⌉ / 10⌋, at least 1). The fast variant runs <see cref="Epochs"/> passes over this many batches,
/// plus one to score.
/// </param>
/// <param name="BatchSize">Samples per batch (reference 128).</param>
/// <param name="Epochs">Fast variant: RMSprop passes over the batches (reference 10). Ignored by the exact variant.</param>
/// <param name="LearningRate">Fast variant: RMSprop learning rate (reference 1e-3; α 0.9 and momentum 0.1 as in the reference).</param>
/// <param name="Solver">Exact variant: the eigen solver (see <see cref="SsdEigenSolver"/>).</param>
public sealed record SsdConfig(SsdVariant Variant = SsdVariant.Exact, double Epsilon = 0.01, int Batches = 0, int BatchSize = 128,
    int Epochs = 10, double LearningRate = 1e-3, SsdEigenSolver Solver = SsdEigenSolver.Auto) : ExtenderConfig
{
    /// <summary>The largest accepted <see cref="Epsilon"/>.</summary>
    public const double MaxEpsilon = 10;

    /// <summary>The largest accepted <see cref="Batches"/> and <see cref="BatchSize"/>.</summary>
    public const int MaxBatches = 100_000;

    /// <summary>The largest accepted <see cref="Epochs"/>.</summary>
    public const int MaxEpochs = 10_000;

    /// <summary>The largest fan-in <see cref="SsdEigenSolver.Auto"/> sends to the full eigendecomposition (measured: MathNet's managed EVD takes ~0.1 s at 392, ~1 s at 784).</summary>
    public const int FullEvdMaxFanIn = 256;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!Enum.IsDefined(Variant)) throw new ArgumentException($"ssd: unknown variant {(int)Variant} (Exact or Fast)");
        if (!Enum.IsDefined(Solver)) throw new ArgumentException($"ssd: unknown solver {(int)Solver} (Auto, Full or Lanczos)");
        if (!(Epsilon >= 0 && Epsilon <= MaxEpsilon)) throw new ArgumentException($"ssd: epsilon must be in 0…{MaxEpsilon}, got {Epsilon}");
        if (Batches < 0 || Batches > MaxBatches) throw new ArgumentException($"ssd: batches must be in 0…{MaxBatches} (0 = a tenth of an epoch), got {Batches}");
        if (BatchSize < 1 || BatchSize > MaxBatches) throw new ArgumentException($"ssd: batchSize must be in 1…{MaxBatches}, got {BatchSize}");
        if (Epochs < 1 || Epochs > MaxEpochs) throw new ArgumentException($"ssd: epochs must be in 1…{MaxEpochs}, got {Epochs}");
        if (!(LearningRate > 0 && LearningRate <= 1)) throw new ArgumentException($"ssd: learningRate must be in (0, 1], got {LearningRate}");
    }

    /// <inheritdoc/>
    protected override Extender Create() => new SsdExtender(this);
}
