namespace Sprout.Growth;

/// <summary>
/// Firefly's distributor (<see cref="FireflyDistributor"/>) as a config: JSON
/// <c>{"type": "firefly", "options": {…}}</c> with the same <see cref="FireflyOptions"/> as the extender. Presets:
/// firefly (paper 000) and firefly-reference (Firefly's code).
/// </summary>
/// <param name="Options">Its settings; null = <see cref="FireflyOptions.Paper"/>.</param>
public sealed record FireflyDistributorConfig(FireflyOptions? Options = null) : DistributorConfig
{
    /// <summary>Its settings (missing ones in JSON take <see cref="FireflyOptions"/>' defaults).</summary>
    public FireflyOptions Options { get; init; } = Options ?? FireflyOptions.Paper;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        (Options ?? throw new ArgumentException("firefly needs options")).Validate("firefly");
    }

    /// <inheritdoc/>
    protected override Distributor Create() => new FireflyDistributor(Options, Label);
}
