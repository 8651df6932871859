using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Initialises new neurons (and may adjust old ones). <see cref="Extend"/> visits the sites in
/// the order given by <see cref="TopFirst"/>, growing each by its count and letting <see cref="ExtendSite"/> fill in the new weights.
/// </summary>
public abstract class Extender
{
    /// <summary>Its name (the config's <see cref="ExtenderConfig.Label"/>, e.g. "swe-plus"); it also names the random stream of each site.</summary>
    public abstract string Name { get; }

    /// <summary>Whether the top hidden layer is processed first (SWE's reference code) or the bottom one.</summary>
    protected virtual bool TopFirst => false;

    /// <summary>Grows every site k by counts[k] neurons.</summary>
    public IReadOnlyList<SiteExtension> Extend(GrowthContext ctx, IReadOnlyList<int> counts)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var sites = ctx.Model.Sites;
        if (counts.Count != sites.Count) throw new ArgumentException($"{counts.Count} counts for {sites.Count} growable layers");
        var result = new SiteExtension[sites.Count];
        BeginExtend(ctx, counts);
        for (int step = 0; step < sites.Count; step++)
        {
            int k = TopFirst ? sites.Count - 1 - step : step;
            if (counts[k] < 0) throw new ArgumentException("negative neuron count");
            result[k] = counts[k] == 0
                ? new SiteExtension(sites[k].Name, sites[k].Width, 0)
                : ExtendSite(ctx, k, counts[k], ctx.Rng.Fork($"extend/{Name}/{ctx.Stage}/{k}"));
        }
        return result;
    }

    /// <summary>Called once per growth step, before the first site grows.</summary>
    protected virtual void BeginExtend(GrowthContext ctx)
    {
    }

    /// <summary>
    /// Called once per growth step, before the first site grows, with every site's count (for methods that measure all
    /// the sites they will grow before growing any, e.g. splitting steepest descent). Default: <see cref="BeginExtend(GrowthContext)"/>.
    /// </summary>
    protected virtual void BeginExtend(GrowthContext ctx, IReadOnlyList<int> counts) => BeginExtend(ctx);

    /// <summary>Adds <paramref name="count"/> neurons to site <paramref name="siteIndex"/>.</summary>
    protected abstract SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng);

    /// <summary>Fills new neurons' incoming weights by a scheme (fans of the producer) and biases (default init or 0).</summary>
    protected static void InitIncoming(GrowthSite site, int first, int count, InitScheme scheme, bool defaultBias, Rng rng)
    {
        int f = site.FanIn;
        var w = new float[f];
        var b = new float[1];
        for (int j = first; j < first + count; j++)
        {
            Init.Fill(w, scheme, f, site.FanOut, rng);
            site.SetIncoming(j, w);
            if (defaultBias)
            {
                Init.FillBias(b, f, rng);
                site.SetBias(j, b[0]);
            }
            else site.SetBias(j, 0f);
        }
    }

    /// <summary>The extender presets' names (<see cref="GrowthMethods.ExtenderPresets"/>).</summary>
    public static IReadOnlyList<string> Names => GrowthMethods.ExtenderPresets;

    /// <summary>Builds an extender preset by name (<see cref="GrowthMethods.Extender"/>; other settings: build an <see cref="ExtenderConfig"/>).</summary>
    public static Extender Create(string name) => GrowthMethods.Extender(name).Build();
}
