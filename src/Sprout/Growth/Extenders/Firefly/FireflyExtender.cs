using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Firefly (Wu et al. 2020, "Firefly Neural Architecture Descent") as an extender. Candidates per site: a split of
/// every existing neuron (parent ± a trainable direction v, outgoing weights halved, see <see cref="GrowthSite.Split"/>)
/// and brand-new neurons (incoming ~N(0, 0.1²), penalised; outgoing ~U(−0.01, 0.01)); all are trained together for
/// an epoch with RMSprop on cross-entropy + 1e-2·(Σv² + 1e-2·Σv_new²) while the model stays frozen in eval mode; a
/// second pass scores each candidate by dL/dy for a zero gate (1 + y) on its perturbation (see <see cref="FireflyNetwork"/>
/// and <see cref="FireflyPlan"/>); the most negative scores win.
/// <para>
/// Selection is global over the sites when the firefly distributor ran in the same growth step: it leaves its
/// <see cref="FireflyPlan"/> in <see cref="GrowthContext.Plan"/> and this extender commits it. With any other
/// distributor, this extender makes its own plan for the counts it is given (sites with count 0 get no candidates;
/// ⌈poolFactor·count⌉ or candidatesPerLayer new-neuron candidates elsewhere) and commits each site's top counts[k].
/// Sites are committed top first (the order of Firefly's code), so a new neuron's trained outgoing weights reach the
/// next site's split copies and new neurons.
/// </para>
/// <para>Cost: <see cref="Passes"/> forward + backward passes of the candidate-extended network per growth step
/// (Epochs × the training batches, then the scoring batches), none when the distributor's plan is committed.</para>
/// </summary>
public sealed class FireflyExtender : Extender
{
    private FireflyPlan? _plan;

    /// <summary>Creates the extender; <paramref name="name"/> names it in reports and its random streams.</summary>
    public FireflyExtender(FireflyOptions? options = null, string name = "firefly")
    {
        Options = options ?? FireflyOptions.Paper;
        Options.Validate(name);
        Name = name;
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>Its settings.</summary>
    public FireflyOptions Options { get; }

    /// <inheritdoc/>
    protected override bool TopFirst => true;

    /// <summary>The plan committed by the last <see cref="Extender.Extend"/> call (its own or the distributor's).</summary>
    public FireflyPlan? LastPlan => _plan;

    /// <summary>Forward + backward passes this extender ran in the last growth step (0 when it committed the distributor's plan).</summary>
    public int Passes { get; private set; }

    /// <inheritdoc/>
    protected override void BeginExtend(GrowthContext ctx, IReadOnlyList<int> counts)
    {
        Passes = 0;
        if (ctx.Plan is FireflyPlan p && p.Matches(ctx.Model, ctx.Stage, counts))
        {
            _plan = p;
            return;
        }
        _plan = null;
        if (counts.All(c => c == 0)) return;
        var newCounts = counts.Select(c => c > 0 ? Options.NewCandidates(c) : -1).ToArray();
        _plan = FireflyPlan.Build(ctx, newCounts, Options, Name);
        _plan.SelectPerSite(counts, Name);
        Passes = _plan.Passes;
    }

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var plan = _plan ?? throw new InvalidOperationException("firefly: no plan for this growth step");
        return plan.Commit(ctx.Model, siteIndex);
    }
}
