using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Random insertion, then the producer's weight matrix is rescaled so its Frobenius norm equals the pre-insertion
/// one (paper 000, Table 1).
/// </summary>
public sealed class FrobeniusExtender : RandomInitExtender
{
    /// <summary>
    /// Creates the extender; <paramref name="name"/> names it in reports and its random streams;
    /// <paramref name="normalStd"/> (null: PyTorch's default) draws the new incoming weights and bias from N(0, σ²)
    /// before the rescaling.
    /// </summary>
    public FrobeniusExtender(string name = "frobenius", double? normalStd = null, bool normalOutgoing = false)
        : base(name, normalStd, normalOutgoing)
    {
    }

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var site = ctx.Model.Sites[siteIndex];
        int old = site.Width;
        double before = Norm(site.InWeight.Span);
        Insert(site, count, rng);
        double after = Norm(site.InWeight.Span);
        if (after > 0)
        {
            float s = (float)(before / after);
            var w = site.InWeight.Span;
            for (int i = 0; i < w.Length; i++) w[i] *= s;
        }
        return new SiteExtension(site.Name, old, count);
    }

    private static double Norm(ReadOnlySpan<float> w)
    {
        double s = 0;
        foreach (float v in w) s += (double)v * v;
        return Math.Sqrt(s);
    }
}
