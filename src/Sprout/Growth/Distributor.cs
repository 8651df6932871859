using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>Decides how many of a stage's neurons each growable layer receives.</summary>
public abstract class Distributor
{
    /// <summary>Its name (the config's <see cref="DistributorConfig.Label"/>, e.g. "svod-topn").</summary>
    public abstract string Name { get; }

    /// <summary>Per-site counts summing to <paramref name="total"/> (the fixed distributor may differ, see its docs).</summary>
    public abstract int[] Allocate(GrowthContext ctx, int total);

    /// <summary>Per-site votes or scores behind the last allocation (null when the distributor has none).</summary>
    public IReadOnlyList<double>? LastVotes { get; protected set; }

    /// <summary>The distributor presets' names (<see cref="GrowthMethods.DistributorPresets"/>).</summary>
    public static IReadOnlyList<string> Names => GrowthMethods.DistributorPresets;

    /// <summary>Builds a distributor preset by name (<see cref="GrowthMethods.Distributor"/>; other settings: build a <see cref="DistributorConfig"/>).</summary>
    public static Distributor Create(string name) => GrowthMethods.Distributor(name).Build();
}
