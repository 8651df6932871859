namespace Sprout.Growth;

/// <summary>RAS (<see cref="RandomAllocationDistributor"/>) as a config: JSON <c>{"type": "ras"}</c>; it has no options.</summary>
public sealed record RasConfig : DistributorConfig
{
    /// <inheritdoc/>
    protected override Distributor Create() => new RandomAllocationDistributor(Label);
}
