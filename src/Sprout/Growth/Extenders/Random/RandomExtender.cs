using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>Standard init in and out: incoming and bias U(±1/√fan_in), outgoing U(±1/√new consumer fan-in).</summary>
public sealed class RandomExtender : Extender
{
    /// <summary>Creates the extender; <paramref name="name"/> names it in reports and its random streams.</summary>
    public RandomExtender(string name = "random") => Name = name;

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var site = ctx.Model.Sites[siteIndex];
        int old = site.Width;
        RandomInsert(site, count, rng);
        return new SiteExtension(site.Name, old, count);
    }

    internal static void RandomInsert(GrowthSite site, int count, Rng rng)
    {
        int first = site.Grow(count);
        InitIncoming(site, first, count, InitScheme.PyTorchDefault, defaultBias: true, rng);
        int consumerFanIn = site.OutWeight.Length / site.OutWeight.Dim(0);
        double bound = 1.0 / Math.Sqrt(consumerFanIn);
        var o = new float[site.FanOut];
        for (int j = first; j < first + count; j++)
        {
            rng.FillUniform(o, -bound, bound);
            site.SetOutgoing(j, o);
        }
    }
}
