using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>RAS: the stage's total spread uniformly over the layers, the remainder to layers drawn at random.</summary>
public sealed class RandomAllocationDistributor : Distributor
{
    /// <summary>Creates the distributor; <paramref name="name"/> names it in reports.</summary>
    public RandomAllocationDistributor(string name = "ras") => Name = name;

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    public override int[] Allocate(GrowthContext ctx, int total)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        int k = ctx.Model.Sites.Count;
        var counts = new int[k];
        for (int i = 0; i < k; i++) counts[i] = total / k;
        var perm = ctx.Rng.Fork($"ras/{ctx.Stage}").Permutation(k);
        for (int t = 0; t < total % k; t++) counts[perm[t]]++;
        return counts;
    }
}
