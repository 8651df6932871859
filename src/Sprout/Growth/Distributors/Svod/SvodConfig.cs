namespace Sprout.Growth;

/// <summary>
/// The Steepest Voting Distributor (<see cref="SteepestVotingDistributor"/>) as a config: JSON
/// <c>{"type": "svod", "name": "svod-topn", "options": {…}}</c>. Presets: svod (paper: votes), svod-topn (authors'
/// code: top-N after an RMSprop epoch); see <see cref="SvodOptions"/>.
/// </summary>
/// <param name="Options">Its settings; null = <see cref="SvodOptions.Paper"/>.</param>
public sealed record SvodConfig(SvodOptions? Options = null) : DistributorConfig
{
    /// <summary>Its settings (missing ones in JSON take <see cref="SvodOptions"/>' defaults, i.e. the paper's).</summary>
    public SvodOptions Options { get; init; } = Options ?? SvodOptions.Paper;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        var o = Options ?? throw new ArgumentException("svod needs options");
        Check(Enum.IsDefined(o.Rule), $"unknown rule {o.Rule}");
        Check(o.ProbesPerLayer is >= 0 and <= MaxProbes, $"probes per layer must be in 0…{MaxProbes} (0 = twice the stage total), got {o.ProbesPerLayer}");
        Check(o.ProbeInit >= 0 && double.IsFinite(o.ProbeInit), $"probe init must be ≥ 0, got {o.ProbeInit}");
        Check(o.TrainEpochs is >= 0 and <= 10_000, $"probe training epochs must be in 0…10000, got {o.TrainEpochs}");
        Check(o.BatchSize is > 0 and <= 1 << 20, $"batch size must be in 1…{1 << 20}, got {o.BatchSize}");
        Check(o.RmsPropLearningRate > 0 && double.IsFinite(o.RmsPropLearningRate), $"RMSprop learning rate must be positive, got {o.RmsPropLearningRate}");
        Check(o.RmsPropMomentum is >= 0 and < 1, $"RMSprop momentum must be in [0, 1), got {o.RmsPropMomentum}");
        Check(o.RmsPropAlpha is > 0 and < 1, $"RMSprop alpha must be in (0, 1), got {o.RmsPropAlpha}");
    }

    /// <inheritdoc/>
    protected override Distributor Create() => new SteepestVotingDistributor(Options, Label);

    private const int MaxProbes = 1 << 16;

    private static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException("svod: " + message);
    }
}
