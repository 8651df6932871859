namespace Sprout.Growth;

/// <summary>The random extender (<see cref="RandomExtender"/>) as a config: JSON <c>{"type": "random"}</c>; it has no options.</summary>
public sealed record RandomConfig : ExtenderConfig
{
    /// <inheritdoc/>
    protected override Extender Create() => new RandomExtender(Label);
}
