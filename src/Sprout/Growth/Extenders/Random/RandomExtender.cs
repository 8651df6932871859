using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Standard init in and out: incoming and bias U(±1/√fan_in), outgoing U(±1/√new consumer fan-in); or, with a
/// <see cref="RandomInitExtender.NormalStd"/>, incoming and bias N(0, σ²).
/// </summary>
public sealed class RandomExtender : RandomInitExtender
{
    /// <summary>
    /// Creates the extender; <paramref name="name"/> names it in reports and its random streams;
    /// <paramref name="normalStd"/> (null: PyTorch's default) draws incoming weights and bias from N(0, σ²).
    /// </summary>
    public RandomExtender(string name = "random", double? normalStd = null, bool normalOutgoing = false)
        : base(name, normalStd, normalOutgoing)
    {
    }

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var site = ctx.Model.Sites[siteIndex];
        int old = site.Width;
        Insert(site, count, rng);
        return new SiteExtension(site.Name, old, count);
    }
}
