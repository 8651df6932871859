using Sprout.Autograd;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>
/// Shared-Weights Extender (paper 000 §2.3). New neuron j is coupled to old neuron i by a learnable pair c_{j,i}
/// (incoming weights and bias). Effective parameters: new_j = w_new_j + Σ_i c_{j,i}; old_i = w_i − Σ_j c_{j,i}.
/// New neurons' outgoing weights start at 0. During a short adjustment phase only the couplings and the consumer
/// layer train (the producer's base weights are frozen, or only decayed, see <see cref="SweOptions.DecayBase"/>);
/// then the couplings are merged into the base weights and discarded. Sites are processed one at a time.
/// The gradient of a coupling is read from the producer's ordinary weight gradient:
/// dL/dc_{j,i} = dL/dnew_j − dL/dold_i, so any layer type whose neurons lie on axis 0 works.
/// </summary>
public sealed class SharedWeightsExtender : Extender
{
    private readonly string _name;

    /// <summary>Creates the extender with the given options and registry name.</summary>
    public SharedWeightsExtender(SweOptions options, string name = "swe")
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        _name = name;
    }

    /// <summary>Its settings.</summary>
    public SweOptions Options { get; }

    /// <inheritdoc/>
    public override string Name => _name;

    /// <inheritdoc/>
    protected override bool TopFirst => Options.TopFirst;

    private double _accBeforeStep = double.NaN;

    /// <inheritdoc/>
    protected override void BeginExtend(GrowthContext ctx) =>
        // recovery aims at the accuracy before the whole growth step, so small per-site losses cannot add up
        _accBeforeStep = double.IsNaN(Options.RecoverTolerance) ? double.NaN : new Trainer(ctx.Model.Module, optimizer: null, Loss.For(ctx.Train)).Evaluate(ctx.Train).Accuracy;

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var o = Options;
        var model = ctx.Model;
        var site = model.Sites[siteIndex];
        int n = site.Width, N = count;
        double accBefore = _accBeforeStep;
        int first = site.Grow(N);
        InitIncoming(site, first, N, o.NewInit, o.NewBiasDefault, rng.Fork("new"));
        if (o.NewInitScale != 1)
        {
            var ws = site.InWeight.Span.Slice(first * site.FanIn);
            for (int k = 0; k < ws.Length; k++) ws[k] *= (float)o.NewInitScale;
        }
        if (o.CenterNewBias) CenterBiases(ctx, siteIndex, first, N, rng.Fork("center"));
        int d = site.IncomingLength;
        int total = n + N;

        // base incoming matrix [n+N, d] (bias last) and couplings C [N, n, d]
        var baseT = new Tensor(site.IncomingMatrix(), total, d) { RequiresGrad = true, Name = "swe.base" };
        var coup = new Tensor(new float[N * n * d], N, n * d) { RequiresGrad = true, Name = "swe.couplings" };
        var mask = Mask(n, N, o.GroupCouplings, rng.Fork("groups"));
        if (o.CouplingStd > 0)
        {
            var cr = rng.Fork("couplings");
            var cs = coup.Span;
            for (int j = 0; j < N; j++)
                for (int i = 0; i < n; i++)
                    if (mask[j * n + i]) cr.FillNormal(cs.Slice((j * n + i) * d, d), 0, o.CouplingStd);
        }
        if (o.DonateFraction > 0)
        {
            if (!o.GroupCouplings) throw new ArgumentException("DonateFraction needs GroupCouplings (with all pairs coupled every new neuron would get the same mean donor)");
            if (!(o.DonateFraction < 1)) throw new ArgumentException("DonateFraction must be in [0, 1)");
            var cs = coup.Span;
            var bs = baseT.Span;
            var outg = new float[site.FanOut];
            for (int i = 0; i < n; i++)
            {
                int donees = 0;
                for (int j = 0; j < N; j++) if (mask[j * n + i]) donees++;
                if (donees == 0) continue;
                float share = (float)(o.DonateFraction / donees);
                for (int j = 0; j < N; j++)
                    if (mask[j * n + i])
                    {
                        var dst = cs.Slice((j * n + i) * d, d);
                        bs.Slice(i * d, d).CopyTo(dst);
                        for (int k = 0; k < d; k++) dst[k] *= share;
                    }
                site.GetOutgoing(i, outg);
                float up = (float)(1 / (1 - o.DonateFraction));
                for (int k = 0; k < outg.Length; k++) outg[k] *= up;
                site.SetOutgoing(i, outg);
            }
        }
        int load = 1;
        if (o.ScaleCouplingStep)
        {
            var perNew = new int[N];
            var perOld = new int[n];
            for (int j = 0; j < N; j++)
                for (int i = 0; i < n; i++)
                    if (mask[j * n + i]) { perNew[j]++; perOld[i]++; }
            load = Math.Max(1, Math.Max(perNew.Max(), perOld.Max()));
        }
        WriteEffective(site, baseT.Span, coup.Span, mask, n, N, d);

        int steps = Adjust(ctx, site, baseT, coup, mask, n, N, d, load, rng.Fork("adjust"), accBefore);

        // merge: the site already holds the effective weights; the couplings are dropped here
        int dead = -1, revived = 0;
        if (o.DeadCheck || o.DeadCheckSamples > 0)
            (dead, revived) = DeadCheck(ctx, siteIndex, first, N, o.DeadCheck, rng.Fork("revive"));
        return new SiteExtension(site.Name, n, N, steps, dead, revived);
    }

    // Which (new j, old i) pairs are coupled: all of them, or a random balanced one-to-few assignment.
    private static bool[] Mask(int n, int N, bool grouped, Rng rng)
    {
        var m = new bool[N * n];
        if (!grouped)
        {
            Array.Fill(m, true);
            return m;
        }
        var perm = rng.Permutation(n);
        // every old neuron donates to exactly one new neuron, round robin over a random order
        for (int t = 0; t < n; t++) m[(t % N) * n + perm[t]] = true;
        // if there are more new neurons than old ones, the extra new neurons take a random old donor each
        for (int j = n; j < N; j++) m[j * n + rng.NextInt(n)] = true;
        return m;
    }

    private static void WriteEffective(GrowthSite site, ReadOnlySpan<float> b, ReadOnlySpan<float> c, bool[] mask, int n, int N, int d) =>
        site.SetIncomingMatrix(EffectiveIncoming(b, c, mask, n, N, d));

    /// <summary>
    /// The effective incoming matrix [n+N, d] (bias last) from the base matrix and couplings c [N, n, d]:
    /// new_j = base_{n+j} + Σ_i mask[j,i]·c_{j,i}; old_i = base_i − Σ_j mask[j,i]·c_{j,i}. A null mask couples all pairs.
    /// Merging the couplings means writing this matrix into the layer.
    /// </summary>
    public static float[] EffectiveIncoming(ReadOnlySpan<float> baseMatrix, ReadOnlySpan<float> couplings, bool[]? mask, int n, int N, int d)
    {
        if (baseMatrix.Length != (n + N) * d || couplings.Length != N * n * d) throw new ArgumentException("base or coupling size does not match n, N, d");
        var e = baseMatrix.ToArray();
        var es = e.AsSpan();
        for (int j = 0; j < N; j++)
        {
            var newRow = es.Slice((n + j) * d, d);
            for (int i = 0; i < n; i++)
            {
                if (mask is not null && !mask[j * n + i]) continue;
                var cij = couplings.Slice((j * n + i) * d, d);
                System.Numerics.Tensors.TensorPrimitives.Add(newRow, cij, newRow);
                var oldRow = es.Slice(i * d, d);
                System.Numerics.Tensors.TensorPrimitives.Subtract(oldRow, cij, oldRow);
            }
        }
        return e;
    }

    private int Adjust(GrowthContext ctx, GrowthSite site, Tensor baseT, Tensor coup, bool[] mask, int n, int N, int d, int load, Rng rng, double accBefore)
    {
        var o = Options;
        var data = ctx.Train;
        int bs = Math.Min(o.BatchSize, data.Count);
        int steps = o.AdjustSteps >= 0 ? o.AdjustSteps : data.Count / bs;
        if (steps <= 0) return 0;
        int epochSteps = Math.Max(1, data.Count / bs);
        int decaySteps = !o.DecayBase ? 0 : o.DecayBaseSteps < 0 ? steps : Math.Min(steps, o.DecayBaseSteps);
        int maxSteps = steps + (double.IsNaN(accBefore) ? 0 : Math.Max(0, o.MaxRecoverEpochs) * epochSteps);
        var model = ctx.Model;

        // only the producer (for its gradient) and the consumer take part; everything else is frozen for the phase
        var involved = new List<Tensor> { site.InWeight, site.OutWeight };
        if (site.InBias is not null) involved.Add(site.InBias);
        if (site.OutBias is not null) involved.Add(site.OutBias);
        var rule = new CouplingStep(site, baseT, coup, mask, n, N, d, involved, o, load, decaySteps);
        var trainer = new Trainer(model.Module, rule, Loss.For(data)) { Name = "the SWE adjustment phase", Trainable = involved, Stop = ctx.Stop ?? new StopSignal() };
        foreach (var cb in ctx.Callbacks) trainer.Add(cb);
        int[] order = o.Shuffle ? rng.Permutation(data.Count) : InMemoryDataset.Identity(data.Count);
        int pos = 0, done = 0;
        try
        {
            using var frozen = trainer.Freeze();
            model.Module.Train();
            for (int s = 0; s < maxSteps && !trainer.StopRequested; s++, done++)
            {
                // recovery: past the planned steps, one more epoch only while accuracy is still short of the tolerance
                if (s >= steps && (s - steps) % epochSteps == 0)
                {
                    double acc = trainer.Evaluate(data).Accuracy;
                    if (100 * (accBefore - acc) <= o.RecoverTolerance) break;
                }
                if (pos + bs > data.Count)
                {
                    pos = 0;
                    if (o.Shuffle) order = rng.Permutation(data.Count);
                }
                var batch = data.Gather(order, pos, bs);
                pos += bs;
                trainer.Step(batch);
            }
        }
        finally
        {
            foreach (var p in involved) p.ZeroGrad();
        }
        return done;
    }

    /// <summary>
    /// SWE's update rule for the adjustment phase: the couplings' gradient dL/dc_{j,i} = dL/dnew_j − dL/dold_i is read
    /// from the producer's gradient; Adam steps the couplings (rate / load), the consumer, and (while decaying) the
    /// base weights with a zero gradient (weight decay alone); then the effective weights are written into the layer.
    /// </summary>
    private sealed class CouplingStep : IStepRule
    {
        private readonly GrowthSite _site;
        private readonly Tensor _base, _coup, _cgrad, _zeroBase;
        private readonly bool[] _mask;
        private readonly int _n, _N, _d, _decaySteps;
        private readonly float[] _grad;
        private readonly Adam _optC, _optNext;
        private readonly Adam? _optBase;
        private readonly List<Tensor> _involved;
        private int _steps;

        public CouplingStep(GrowthSite site, Tensor baseT, Tensor coup, bool[] mask, int n, int N, int d, List<Tensor> involved,
            SweOptions o, int load, int decaySteps)
        {
            _site = site;
            _base = baseT;
            _coup = coup;
            _mask = mask;
            _n = n;
            _N = N;
            _d = d;
            _involved = involved;
            _decaySteps = decaySteps;
            var next = new List<Tensor> { site.OutWeight };
            if (site.OutBias is not null) next.Add(site.OutBias);
            double nextLr = double.IsNaN(o.NextLearningRate) ? o.LearningRate : o.NextLearningRate;
            _optBase = o.DecayBase ? new Adam([baseT], nextLr, weightDecay: o.WeightDecay) : null;
            _optNext = new Adam(next, nextLr, weightDecay: o.WeightDecay);
            _optC = new Adam([coup], o.LearningRate / load, weightDecay: o.WeightDecay);
            _grad = new float[(n + N) * d];
            _cgrad = new Tensor(new float[coup.Length], coup.ShapeArray());
            _zeroBase = new Tensor(new float[baseT.Length], baseT.ShapeArray());
        }

        public IReadOnlyList<Tensor> Parameters => _involved;

        public void ZeroGrad()
        {
            foreach (var p in _involved) p.ZeroGrad();
        }

        public void Step()
        {
            int n = _n, N = _N, d = _d;
            _site.IncomingGradient(_grad);
            var cg = _cgrad.Span;
            for (int j = 0; j < N; j++)
            {
                var gNew = _grad.AsSpan((n + j) * d, d);
                for (int i = 0; i < n; i++)
                {
                    var dst = cg.Slice((j * n + i) * d, d);
                    if (_mask[j * n + i]) System.Numerics.Tensors.TensorPrimitives.Subtract(gNew, _grad.AsSpan(i * d, d), dst);
                    else dst.Clear();
                }
            }
            _coup.Grad = _cgrad;
            _optC.Step();
            _optNext.Step();
            if (_optBase is not null && _steps < _decaySteps)
            {
                _base.Grad = _zeroBase;
                _optBase.Step();
            }
            _steps++;
            WriteEffective(_site, _base.Span, _coup.Span, _mask, n, N, d);
        }
    }

    // Sets each new neuron's bias to minus a quantile of its pre-bias activation on check samples, so it fires on
    // ReviveActiveFraction of them. Outgoing weights are zero at this point, so the network's output is unchanged.
    private void CenterBiases(GrowthContext ctx, int siteIndex, int first, int count, Rng rng)
    {
        var site = ctx.Model.Sites[siteIndex];
        int rows = Math.Min(Options.DeadCheckSamples, ctx.Train.Count);
        if (rows <= 0 || site.InBias is null) return;
        var bx = ctx.Train.Gather(rng.Permutation(ctx.Train.Count), 0, rows).X;
        int f = site.FanIn;
        var w = new float[f];
        using (Graph.NoGrad())
        using (TensorScope.Begin())
        {
            var input = ctx.Model.SiteInput(bx, siteIndex).Span;
            rows = input.Length / f; // a conv site has one row per (sample, position)
            var u = new float[rows];
            for (int c = first; c < first + count; c++)
            {
                site.GetIncoming(c, w);
                for (int r = 0; r < rows; r++) u[r] = System.Numerics.Tensors.TensorPrimitives.Dot(input.Slice(r * f, f), w);
                site.SetBias(c, -Quantile(u, 1 - Options.ReviveActiveFraction));
            }
        }
    }

    private static float Quantile(float[] values, double q)
    {
        var sorted = (float[])values.Clone();
        Array.Sort(sorted);
        int i = Math.Clamp((int)Math.Round(q * (sorted.Length - 1)), 0, sorted.Length - 1);
        return sorted[i];
    }

    // Counts new neurons with zero output on every check sample; optionally revives them: keep the direction, set the
    // bias so the neuron is active on a share of the samples, and zero its outgoing weights (so the network's
    // function on the data is unchanged: the neuron contributed nothing before).
    private (int Dead, int Revived) DeadCheck(GrowthContext ctx, int siteIndex, int first, int count, bool revive, Rng rng)
    {
        var o = Options;
        var model = ctx.Model;
        var site = model.Sites[siteIndex];
        int rows = Math.Min(o.DeadCheckSamples, ctx.Train.Count);
        // A BatchNorm after the producer renormalises each channel on every batch, so a new channel is never silent at
        // insertion; its activity is measured after stage training on the post-activation output instead.
        if (rows <= 0 || site.Norm is not null) return (-1, 0);
        var bx = ctx.Train.Gather(rng.Fork("samples").Permutation(ctx.Train.Count), 0, rows).X;
        int f = site.FanIn, dead = 0, revived = 0;
        using (Graph.NoGrad())
        using (TensorScope.Begin())
        {
            var pre = model.PreActivations(bx, siteIndex);   // [rows, width]; conv: [rows·positions, channels]
            var ps = pre.Span;
            int width = site.Width;
            var input = model.SiteInput(bx, siteIndex).Span;  // [rows, FanIn]; conv: [rows·positions, C·k·k]
            rows = pre.Dim(0);
            var w = new float[f];
            var u = new float[rows];
            var zeros = new float[site.FanOut];
            for (int c = first; c < first + count; c++)
            {
                int fired = 0;
                for (int r = 0; r < rows; r++) if (ps[r * width + c] > 0) fired++;
                if (fired == 0) dead++;
                if (!revive || fired > 0 && fired >= o.MinActiveFraction * rows) continue;
                site.GetIncoming(c, w);
                if (System.Numerics.Tensors.TensorPrimitives.Norm(w) == 0)
                {
                    Sprout.Nn.Init.Fill(w, Sprout.Nn.InitScheme.KaimingNormal, f, site.FanOut, rng);
                    site.SetIncoming(c, w);
                }
                for (int r = 0; r < rows; r++) u[r] = System.Numerics.Tensors.TensorPrimitives.Dot(input.Slice(r * f, f), w);
                site.SetBias(c, -Quantile(u, 1 - o.ReviveActiveFraction));
                site.SetOutgoing(c, zeros);
                revived++;
            }
        }
        return (dead, revived);
    }
}
