namespace Sprout.Growth;

/// <summary>The frobenius extender (<see cref="FrobeniusExtender"/>) as a config: JSON <c>{"type": "frobenius"}</c>; it has no options.</summary>
public sealed record FrobeniusConfig : ExtenderConfig
{
    /// <inheritdoc/>
    protected override Extender Create() => new FrobeniusExtender(Label);
}
