namespace Sprout.Growth;

/// <summary>
/// Firefly's extender (<see cref="FireflyExtender"/>) as a config: JSON
/// <c>{"type": "firefly", "options": {"poolFactor": 5, "candidatesPerLayer": 0, …}}</c>. Presets: firefly (paper 000:
/// 5 new-neuron candidates per neuron to add) and firefly-reference (Firefly's code: 70 per layer); see
/// <see cref="FireflyOptions"/>. Pair it with the firefly distributor for Firefly's global selection.
/// </summary>
/// <param name="Options">Its settings; null = <see cref="FireflyOptions.Paper"/>.</param>
public sealed record FireflyConfig(FireflyOptions? Options = null) : ExtenderConfig
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
    protected override Extender Create() => new FireflyExtender(Options, Label);
}
