namespace Sprout.Growth;

/// <summary>The kaiming extender (<see cref="KaimingExtender"/>) as a config: JSON <c>{"type": "kaiming"}</c>; it has no options.</summary>
public sealed record KaimingConfig : ExtenderConfig
{
    /// <inheritdoc/>
    protected override Extender Create() => new KaimingExtender(Label);
}
