namespace Sprout.Growth;

/// <summary>
/// The global splitting rule of splitting steepest descent (<see cref="SsdDistributor"/>) as a config: JSON
/// <c>{"type": "ssd", "variant": "Exact", "batches": 0, "batchSize": 128, "epochs": 10, "learningRate": 0.001, "solver": "Auto"}</c>
/// (the measurement settings of <see cref="SsdConfig"/>). Presets: ssd (exact) and ssd-fast.
/// </summary>
/// <param name="Variant">Exact or Fast (see <see cref="SsdConfig.Variant"/>).</param>
/// <param name="Batches">See <see cref="SsdConfig.Batches"/> (0 = a tenth of an epoch).</param>
/// <param name="BatchSize">See <see cref="SsdConfig.BatchSize"/>.</param>
/// <param name="Epochs">See <see cref="SsdConfig.Epochs"/> (fast variant).</param>
/// <param name="LearningRate">See <see cref="SsdConfig.LearningRate"/> (fast variant).</param>
/// <param name="Solver">See <see cref="SsdConfig.Solver"/> (exact variant).</param>
public sealed record SsdDistributorConfig(SsdVariant Variant = SsdVariant.Exact, int Batches = 0, int BatchSize = 128, int Epochs = 10,
    double LearningRate = 1e-3, SsdEigenSolver Solver = SsdEigenSolver.Auto) : DistributorConfig
{
    /// <summary>The measurement settings as an extender config (which the <see cref="SsdExtender"/> must match to reuse the measurements).</summary>
    public SsdConfig Settings => new(Variant, 0.01, Batches, BatchSize, Epochs, LearningRate, Solver);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        Settings.Validate();
    }

    /// <inheritdoc/>
    protected override Distributor Create() => new SsdDistributor(this);
}
