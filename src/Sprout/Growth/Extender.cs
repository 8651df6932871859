using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Initialises new neurons (and may adjust old ones). <see cref="Extend"/> visits the sites in
/// the order given by <see cref="TopFirst"/>, growing each by its count and letting <see cref="ExtendSite"/> fill in the new weights.
/// </summary>
public abstract class Extender
{
    /// <summary>Registry name (e.g. "swe").</summary>
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
        BeginExtend(ctx);
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

    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["swe", "swe-reference", "swe-plus", "swe-plus-frozen", "swe-plus-shrink", "random", "kaiming", "frobenius"];

    /// <summary>Builds an extender by name (see <see cref="Names"/>).</summary>
    public static Extender Create(string name, SweOptions? sweOptions = null) => name switch
    {
        "swe" => new SharedWeightsExtender(sweOptions ?? SweOptions.Paper, "swe"),
        "swe-reference" => new SharedWeightsExtender(sweOptions ?? SweOptions.Reference, "swe-reference"),
        "swe-plus" => new SharedWeightsExtender(sweOptions ?? SweOptions.Plus, "swe-plus"),
        "swe-plus-frozen" => new SharedWeightsExtender(sweOptions ?? SweOptions.PlusFrozen, "swe-plus-frozen"),
        "swe-plus-shrink" => new SharedWeightsExtender(sweOptions ?? SweOptions.PlusShrink, "swe-plus-shrink"),
        "random" => new RandomExtender(),
        "kaiming" => new KaimingExtender(),
        "frobenius" => new FrobeniusExtender(),
        _ => throw new ArgumentException($"unknown extender '{name}' (known: {string.Join(", ", Names)})"),
    };
}
