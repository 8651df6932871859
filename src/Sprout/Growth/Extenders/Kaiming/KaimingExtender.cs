using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>SWE's insertion without couplings: Kaiming-normal incoming weights, zero bias, zero outgoing weights.</summary>
public sealed class KaimingExtender : Extender
{
    /// <summary>Creates the extender; <paramref name="name"/> names it in reports and its random streams.</summary>
    public KaimingExtender(string name = "kaiming") => Name = name;

    /// <inheritdoc/>
    public override string Name { get; }

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var site = ctx.Model.Sites[siteIndex];
        int old = site.Width;
        int first = site.Grow(count);
        InitIncoming(site, first, count, InitScheme.KaimingNormal, defaultBias: false, rng);
        return new SiteExtension(site.Name, old, count);
    }
}
