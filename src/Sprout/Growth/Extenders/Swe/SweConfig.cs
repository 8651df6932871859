namespace Sprout.Growth;

/// <summary>
/// The Shared-Weights Extender (<see cref="SharedWeightsExtender"/>) as a config: JSON
/// <c>{"type": "swe", "name": "swe-plus", "options": {…}}</c>. Presets: swe (paper), swe-reference (authors' code),
/// swe-plus, swe-plus-frozen, swe-plus-shrink (ours; see <see cref="SweOptions"/>).
/// </summary>
/// <param name="Options">Its settings; null = <see cref="SweOptions.Paper"/>.</param>
public sealed record SweConfig(SweOptions? Options = null) : ExtenderConfig
{
    /// <summary>Its settings (missing ones in JSON take <see cref="SweOptions"/>' defaults, i.e. the paper's).</summary>
    public SweOptions Options { get; init; } = Options ?? SweOptions.Paper;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        var o = Options ?? throw new ArgumentException("swe needs options");
        Check(o.BatchSize is > 0 and <= MaxBatch, $"batch size must be in 1…{MaxBatch}, got {o.BatchSize}");
        Check(o.AdjustSteps >= -1, $"adjustment steps must be ≥ −1 (−1 = one epoch), got {o.AdjustSteps}");
        Check(o.DeadCheckSamples is >= 0 and <= MaxSamples, $"dead-check samples must be in 0…{MaxSamples}, got {o.DeadCheckSamples}");
        Check(o.MaxRecoverEpochs is >= 0 and <= 10_000, $"recovery epochs must be in 0…10000, got {o.MaxRecoverEpochs}");
        Check(o.DecayBaseSteps >= -1, $"base-decay steps must be ≥ −1 (−1 = the whole phase), got {o.DecayBaseSteps}");
        Check(o.LearningRate > 0 && double.IsFinite(o.LearningRate), $"learning rate must be a positive number, got {o.LearningRate}");
        Check(double.IsNaN(o.NextLearningRate) || (o.NextLearningRate > 0 && double.IsFinite(o.NextLearningRate)),
            $"next-layer learning rate must be positive (or NaN = the learning rate), got {o.NextLearningRate}");
        Check(o.WeightDecay >= 0 && double.IsFinite(o.WeightDecay), $"weight decay must be ≥ 0, got {o.WeightDecay}");
        Check(o.CouplingStd >= 0 && double.IsFinite(o.CouplingStd), $"coupling std must be ≥ 0, got {o.CouplingStd}");
        Check(double.IsFinite(o.NewInitScale), $"new-init scale must be finite, got {o.NewInitScale}");
        Check(o.DonateFraction is >= 0 and < 1, $"donate fraction must be in [0, 1), got {o.DonateFraction}");
        Check(o.MinActiveFraction is >= 0 and <= 1, $"min active fraction must be in [0, 1], got {o.MinActiveFraction}");
        Check(o.ReviveActiveFraction is > 0 and <= 1, $"revive active fraction must be in (0, 1], got {o.ReviveActiveFraction}");
        Check(double.IsNaN(o.RecoverTolerance) || o.RecoverTolerance >= 0, $"recover tolerance must be ≥ 0 (or NaN = off), got {o.RecoverTolerance}");
    }

    /// <inheritdoc/>
    protected override Extender Create() => new SharedWeightsExtender(Options, Label);

    private const int MaxBatch = 1 << 20;
    private const int MaxSamples = 1 << 24;

    private static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException("swe: " + message);
    }
}
