using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;
using System.Buffers;
using System.Diagnostics;
using System.Numerics.Tensors;
using Sprout.Autograd;
using Sprout.Kernels;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>
/// The statistics TINY gathers at one site, each a mean over the rows seen (one row per sample): a = the producer's
/// input with a trailing 1 when the producer has a bias ([D′]), b = the consumer's input with a trailing 1 when the
/// consumer has a bias ([W′]), v = the desired update of the consumer's pre-activation, −∂ℓ_i/∂z_{l+1} (the per-sample
/// loss gradient, i.e. the batch-mean loss gradient times the batch size) ([O]).
/// </summary>
/// <param name="InputCovariance">S_a = mean aᵀa, [D′, D′].</param>
/// <param name="ConsumerCovariance">S = mean bᵀb, [W′, W′].</param>
/// <param name="ConsumerMoment">M = mean bᵀv, [W′, O].</param>
/// <param name="InputMoment">M_a = mean aᵀv, [D′, O].</param>
/// <param name="Cross">P = mean aᵀb, [D′, W′].</param>
/// <param name="Rows">Rows averaged.</param>
/// <param name="Batches">Forward + backward passes run to gather them.</param>
public sealed record TinyStatistics(Matrix<double> InputCovariance, Matrix<double> ConsumerCovariance, Matrix<double> ConsumerMoment,
    Matrix<double> InputMoment, Matrix<double> Cross, int Rows, int Batches);

/// <summary>
/// TINY's problem at a conv site (conv → conv, or conv → Flatten → Linear), with the layers between the producer and its
/// consumer linearised at a zero channel (see <see cref="TinyExtender"/>). T = consumer weights per neuron and output
/// (k′·k′ for a conv consumer, H·W for a Linear one after Flatten).
/// </summary>
/// <param name="InputCovariance">S_a = mean aᵀa over the producer's input patches (bias 1 last), [D′, D′].</param>
/// <param name="ConsumerCovariance">S = mean bᵀb over the consumer's input rows (patches for a conv), [W·T (+1), W·T (+1)].</param>
/// <param name="ConsumerMoment">M = mean bᵀv over the same rows, [W·T (+1), O].</param>
/// <param name="Delta">δW* = S⁻¹M.</param>
/// <param name="Moment">N [D′, O·T]: N[d, o·T + t] = Σ (per sample, mean over samples) of v_proj[o] at each consumer position times the linearised map of input-patch entry d under consumer tap t.</param>
/// <param name="UnprojectedMoment">The same with v in place of v_proj: the first-order decrease of a new channel (α, ω) alone is αᵀ·this·ω per unit γ².</param>
/// <param name="Taps">T.</param>
/// <param name="Batches">Forward + backward passes run.</param>
public sealed record TinyConvProblem(Matrix<double> InputCovariance, Matrix<double> ConsumerCovariance, Matrix<double> ConsumerMoment,
    Matrix<double> Delta, Matrix<double> Moment, Matrix<double> UnprojectedMoment, int Taps, int Batches);

/// <summary>TINY's new neurons: incoming weights α (with the bias last when the producer has one), outgoing weights ω and the singular values σ.</summary>
/// <param name="Alpha">[k, D′]: α_k = √σ_k · S_a^{−1/2} u_k (u_k, v_k: singular vectors of S_a^{−1/2}·N).</param>
/// <param name="Omega">[k, O]: ω_k = √σ_k · v_k.</param>
/// <param name="Singular">σ_k, descending; the first-order loss decrease of the neurons (linearised activation, σ′(0) = 1) is t·Σσ_k² when both α and ω are scaled by √t.</param>
public sealed record TinyNeurons(Matrix<double> Alpha, Matrix<double> Omega, double[] Singular)
{
    /// <summary>Number of neurons (directions kept).</summary>
    public int Count => Singular.Length;

    /// <summary>Σσ_k², the first-order decrease per unit of t = γ².</summary>
    public double Gain => Singular.Sum(s => s * s);
}

/// <summary>What TINY did at one site.</summary>
/// <param name="Site">Site name.</param>
/// <param name="Directions">New neurons that got a TINY direction (the rest got <see cref="TinySurplus"/>).</param>
/// <param name="NeuronGain">Σσ_k² over the kept directions (first-order decrease per unit γ²).</param>
/// <param name="DeltaGain">tr(Mᵀ·δW*), the first-order decrease of the consumer update per unit γ².</param>
/// <param name="Gamma">The scale the line search chose (0 = no positive scale lowered the loss; see <see cref="TinyExtender"/>).</param>
/// <param name="LossBefore">Line-search batch loss before the change.</param>
/// <param name="LossAfter">Line-search batch loss after it.</param>
public sealed record TinySiteReport(string Site, int Directions, double NeuronGain, double DeltaGain, double Gamma, double LossBefore, double LossAfter);

/// <summary>Where one grown site's time went (seconds, by <see cref="Stopwatch"/>), piece by piece.</summary>
/// <param name="Site">Site name.</param>
/// <param name="Passes">The statistics' forward + backward passes.</param>
/// <param name="Covariance">Building the statistics' rows (copies, patches, linearised maps) and accumulating their products.</param>
/// <param name="Delta">δW* (the consumer covariance's factor and solve) and the projected moment N.</param>
/// <param name="Neurons">The new neurons: S_a's factor and solve (or eigendecomposition) and the small eigendecomposition.</param>
/// <param name="LineSearch">The line search: its batch at the producer's input, every evaluation and setting the weights.</param>
/// <param name="Total">The whole site.</param>
public sealed record TinySiteTimings(string Site, double Passes, double Covariance, double Delta, double Neurons, double LineSearch, double Total);

/// <summary>
/// TINY (Verbockhaven et al., "Growing Tiny Networks: Spotting Expressivity Bottlenecks and Fixing Them Optimally",
/// 2024; the method of the growth library gromo). For a site with producer l (input a) and consumer l+1 (input b, the
/// post-activation of l; pre-activation z), the desired update of z is v = −∂ℓ/∂z per sample. The best update of the
/// consumer alone is δW* = S⁻¹M (least squares of v on b); what it cannot express is the expressivity bottleneck
/// v_proj = v − b·δW*. New neurons (α incoming, ω outgoing) maximise the first-order decrease ⟨v_proj, Σ_k ω_k α_kᵀa⟩
/// for S_a-normalised α: the top singular directions of S_a^{−1/2}·N with N = mean aᵀv_proj = M_a − P·δW*.
/// A line search then picks the scale γ (neurons get γα and γω, the consumer moves by γ²·δW* when
/// <see cref="TinyConfig.ApplyDelta"/>) that minimises the loss on a batch.
/// <para>
/// Linear algebra: Cholesky solves with the ridge-regularised covariances (S + r·mean(diag S)·I) by the SIMD
/// <see cref="SpdCholesky"/> (MathNet's managed Cholesky is several times slower at these sizes), and MathNet.Numerics'
/// symmetric eigendecomposition of the small [O, O] matrix Nᵀ·S_a⁻¹·N = (S_a^{−1/2}N)ᵀ(S_a^{−1/2}N): its
/// eigenvalues are σ_k², its eigenvectors the right singular vectors v_k, and α_k = S_a⁻¹·N·v_k / √σ_k equals
/// √σ_k·S_a^{−1/2}·u_k, so no D′×D′ eigendecomposition or SVD is needed. Gromo takes S_a^{−1/2} from the
/// eigendecomposition of S_a with a threshold instead of a ridge.
/// </para>
/// <para>
/// Nonlinearity: as in the paper and gromo, the new neurons' effect is linearised around 0 (σ′(0) = 1 for ReLU from
/// the right; ReLU is positively homogeneous, so γ·ω·relu(γ·αᵀa) = γ²·ω·relu(αᵀa) and the linear gain is only a
/// guide — the line search decides). The sign of each singular pair is fixed so the largest |entry| of ω_k is positive.
/// Directions whose singular value is below <see cref="TinyConfig.SingularThreshold"/> × the largest, and neurons
/// past min(D′, O), get <see cref="TinyConfig.Surplus"/>. If no positive γ lowers the line-search loss, the existing
/// weights stay, and the TINY neurons get their incoming α with zero outgoing weights (the function is unchanged).
/// The model runs in eval mode throughout (BatchNorm uses its running statistics; new channels are identity there).
/// Conv sites (conv → conv, conv → Flatten → Linear, MobileNet's producer → depthwise → pointwise blocks): a channel is
/// one neuron applied at every position, a = its input patches, and the layers between producer and consumer are
/// linearised at a zero channel (<see cref="LinearisedPath"/>: BatchNorm 1/√(1+ε), activations their slope at 0, a tied
/// depthwise conv the exact map of the new channel's Dirac filter, max pooling average pooling over the same windows);
/// the consumer's statistics run over its own patches
/// (conv) or flattened input (Linear), and N collects, per consumer tap, the projected desired update against the
/// linearised map of each input-patch entry. Sites whose covariances exceed <see cref="MaxStatisticsSize"/> are rejected.
/// </para>
/// <para>
/// Cost per grown site: <see cref="TinyConfig.Batches"/> forward + backward passes for the statistics, one Cholesky
/// of each covariance, and one evaluation of the line-search batch per grid point (<see cref="LineSearchForwards"/>):
/// from the consumer on when the path is positively homogeneous (<see cref="HomogeneousPath"/>), else from the
/// producer on (the layers below it run once). <see cref="LastTimings"/> splits each site's time into these pieces.
/// </para>
/// </summary>
public sealed class TinyExtender : Extender
{
    private readonly TinyConfig _config;
    private readonly List<TinySiteReport> _reports = new();

    /// <summary>Creates the extender from a validated config (<see cref="ExtenderConfig.Build"/> validates).</summary>
    public TinyExtender(TinyConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        _config = config;
        Name = config.Label;
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>The largest producer fan-in + consumer fan-in + consumer outputs (the side of the covariance TINY gathers) accepted.</summary>
    public const int MaxStatisticsSize = 4096;

    /// <summary>The settings.</summary>
    public TinyConfig Config => _config;

    /// <summary>Forward + backward passes run by the last <see cref="Extender.Extend"/> call (statistics batches).</summary>
    public int Passes { get; private set; }

    /// <summary>Forward-only passes of the line-search batch run by the last <see cref="Extender.Extend"/> call.</summary>
    public int LineSearchForwards { get; private set; }

    /// <summary>What the last <see cref="Extender.Extend"/> call did, one entry per grown site.</summary>
    public IReadOnlyList<TinySiteReport> LastReports => _reports;

    /// <summary>Where the last <see cref="Extender.Extend"/> call's time went, one entry per grown site (a profile; not deterministic).</summary>
    public IReadOnlyList<TinySiteTimings> LastTimings => _timings;

    private readonly List<TinySiteTimings> _timings = new();

    // tests and profiling: every line-search evaluation runs the layers from the producer on, as before the shortcut
    internal bool FullLineSearch { get; set; }

    /// <inheritdoc/>
    protected override void BeginExtend(GrowthContext ctx)
    {
        Passes = 0;
        LineSearchForwards = 0;
        _reports.Clear();
        _timings.Clear();
    }

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var model = ctx.Model;
        var site = model.Sites[siteIndex];
        if (ctx.Train.Count == 0) throw new ArgumentException("tiny needs training data for its statistics");
        var c = _config;
        var order = rng.Fork("batches").Permutation(ctx.Train.Count);
        long t0 = Stopwatch.GetTimestamp();
        var clock = new double[3]; // passes, covariance, delta
        Matrix<double> delta, n, sa;
        RawSums? raw = null;
        int taps = 1;
        double deltaGain;
        if (model.IsConvSite(siteIndex))
        {
            var cp = TimedConvProblem(model, siteIndex, ctx.Train, order, c.Batches, c.BatchSize, c.Ridge, clock);
            Passes += cp.Batches;
            (delta, n, sa, taps) = (cp.Delta, cp.Moment, cp.InputCovariance, cp.Taps);
            deltaGain = cp.ConsumerMoment.PointwiseMultiply(delta).Enumerate().Sum();
        }
        else
        {
            // S_a stays in the pooled row-major sums (no D′×D′ MathNet matrix: 4.9 MB of fresh memory at a 785-wide input)
            raw = RawStatistics(model, siteIndex, ctx.Train, order, c.Batches, c.BatchSize, clock);
            Passes += raw.Passes;
            long td = Stopwatch.GetTimestamp();
            int d = raw.D, wd = raw.Wd, outsL = raw.Outs, cols = raw.Cols;
            var sB = raw.Block(d, wd, d, wd);
            var mB = raw.Block(d, wd, d + wd, outsL);
            delta = OptimalDelta(sB, mB, c.Ridge);
            deltaGain = mB.PointwiseMultiply(delta).Enumerate().Sum();
            // N = M_a − P·δW*, row by row from the sums: N[i, :] = (Σ aᵢv − Σ_k Σ aᵢb_k·δ[k, :]) / rows
            var dr = delta.ToRowMajorArray();
            var nr = new double[d * outsL];
            for (int i = 0; i < d; i++)
            {
                var dst = nr.AsSpan(i * outsL, outsL);
                var src = raw.Sum.AsSpan(i * cols, cols);
                src.Slice(d + wd, outsL).CopyTo(dst);
                for (int k = 0; k < wd; k++) TensorPrimitives.MultiplyAdd(dr.AsSpan(k * outsL, outsL), -src[d + k], dst, dst);
                TensorPrimitives.Divide(dst, raw.Rows, dst);
            }
            n = Matrix<double>.Build.DenseOfRowMajor(d, outsL, nr);
            sa = null!;
            clock[2] += Stopwatch.GetElapsedTime(td).TotalSeconds;
        }
        long tn = Stopwatch.GetTimestamp();
        TinyNeurons neurons;
        try
        {
            neurons = raw is null ? NewNeurons(sa, n, count, c.Ridge, c.SingularThreshold)
                : NewNeuronsCore(raw.D, () => raw.Block(0, raw.D, 0, raw.D), (r, b) => RidgeSolve(raw.Sum, raw.Cols, raw.Rows, raw.D, r, b), n, count, c.Ridge, c.SingularThreshold);
        }
        finally
        {
            raw?.Return();
        }
        double neuronSeconds = Stopwatch.GetElapsedTime(tn).TotalSeconds;
        long tl = Stopwatch.GetTimestamp();

        int old = site.Width, first = site.Grow(count), fan = site.FanIn, outs = site.FanOut, consumerOuts = outs / taps;
        var w0 = new float[old * outs];
        for (int i = 0; i < old; i++) site.GetOutgoing(i, w0.AsSpan(i * outs, outs));
        var b0 = site.OutBias?.ToArray();
        bool inBias = site.InBias is not null;
        var loss = Loss.For(ctx.Train);
        var lsOrder = rng.Fork("line-search").Permutation(ctx.Train.Count);
        var batch = ctx.Train.Gather(lsOrder, 0, Math.Min(c.LineSearchBatchSize, ctx.Train.Count));
        var (input, inputShape) = ProducerInput(model, siteIndex, batch);

        var w = new float[fan];
        var o = new float[outs];
        void Apply(double gamma, bool moveOld, bool withOutgoing)
        {
            for (int k = 0; k < neurons.Count; k++)
            {
                for (int t = 0; t < fan; t++) w[t] = (float)(gamma * neurons.Alpha[k, t]);
                site.SetIncoming(first + k, w);
                site.SetBias(first + k, inBias ? (float)(gamma * neurons.Alpha[k, fan]) : 0f);
                for (int t = 0; t < outs; t++) o[t] = withOutgoing ? (float)(gamma * neurons.Omega[k, t]) : 0f;
                site.SetOutgoing(first + k, o);
            }
            if (!c.ApplyDelta) return;
            double g2 = moveOld ? gamma * gamma : 0;
            // outgoing entry (output u, tap t) of old neuron i moves by γ²·δW*[i·T + t, u]; the bias row is last
            for (int i = 0; i < old; i++)
            {
                for (int u = 0; u < consumerOuts; u++)
                    for (int t = 0; t < taps; t++)
                        o[u * taps + t] = (float)(w0[i * outs + u * taps + t] + g2 * delta[i * taps + t, u]);
                site.SetOutgoing(i, o);
            }
            if (site.OutBias is { } ob)
            {
                var s = ob.Span;
                for (int u = 0; u < consumerOuts; u++) s[u] = (float)(b0![u] + g2 * delta[old * taps, u]);
            }
        }
        // fast path (HomogeneousPath): the consumer's output at scale γ is z0 + γ²·Δz, so each evaluation runs only the
        // layers after the consumer; otherwise every evaluation runs the layers from the producer on
        ConsumerSplit? split = null;
        if (!FullLineSearch && HomogeneousPath(model, siteIndex))
        {
            Apply(1, false, false); // new neurons' incoming α, no outgoing, old consumer weights as they were
            split = SplitAtConsumer(model, siteIndex, input, inputShape, () =>
            {
                // the consumer's weights become Δ: δW* on the old neurons (when applyDelta), ω on the new ones, δ's bias row
                for (int k = 0; k < neurons.Count; k++)
                {
                    for (int t = 0; t < outs; t++) o[t] = (float)neurons.Omega[k, t];
                    site.SetOutgoing(first + k, o);
                }
                for (int i = 0; i < old; i++)
                {
                    for (int u = 0; u < consumerOuts; u++)
                        for (int t = 0; t < taps; t++) o[u * taps + t] = c.ApplyDelta ? (float)delta[i * taps + t, u] : 0f;
                    site.SetOutgoing(i, o);
                }
                if (site.OutBias is { } ob)
                {
                    var s = ob.Span;
                    for (int u = 0; u < consumerOuts; u++) s[u] = c.ApplyDelta ? (float)delta[old * taps, u] : 0f;
                }
            });
            for (int i = 0; i < old; i++) site.SetOutgoing(i, w0.AsSpan(i * outs, outs)); // the old weights back (Apply below sets the rest)
            b0?.CopyTo(site.OutBias!.Span);
        }
        double Eval(double gamma)
        {
            LineSearchForwards++;
            if (split is not null) return split.Loss(model, siteIndex, gamma * gamma, batch, loss);
            Apply(gamma, true, true);
            return BatchLoss(model, siteIndex, input, inputShape, batch, loss);
        }

        double loss0 = split is null ? BatchLoss(model, siteIndex, input, inputShape, batch, loss) : split.Loss(model, siteIndex, 0, batch, loss), best = loss0, bestGamma = 0;
        LineSearchForwards++;
        if (neurons.Count > 0 || c.ApplyDelta)
            (bestGamma, best) = LineSearch(Eval, loss0, c.GammaMin, c.GammaMax, c.LineSearchPoints, c.LineSearchExtensions);
        if (bestGamma > 0) Apply(bestGamma, true, true);
        else Apply(1, false, false);
        double lineSeconds = Stopwatch.GetElapsedTime(tl).TotalSeconds;

        if (c.Surplus == TinySurplus.Random && neurons.Count < count)
        {
            double norm = MeanIncomingNorm(site, first, neurons.Count, fan);
            if (norm == 0) norm = MeanIncomingNorm(site, 0, old, fan);
            var r = rng.Fork("surplus");
            for (int j = first + neurons.Count; j < first + count; j++)
            {
                r.FillNormal(w, 0, 1);
                double n2 = 0;
                foreach (float v in w) n2 += (double)v * v;
                double f = n2 > 0 ? norm / Math.Sqrt(n2) : 0;
                for (int t = 0; t < fan; t++) w[t] = (float)(w[t] * f);
                site.SetIncoming(j, w);
                site.SetBias(j, 0f);
            }
        }
        _reports.Add(new TinySiteReport(site.Name, neurons.Count, neurons.Gain, deltaGain, bestGamma, loss0, best));
        _timings.Add(new TinySiteTimings(site.Name, clock[0], clock[1], clock[2], neuronSeconds, lineSeconds, Stopwatch.GetElapsedTime(t0).TotalSeconds));
        return new SiteExtension(site.Name, old, count);
    }

    /// <summary>
    /// gromo-style line search on a black-box loss: γ = 0 (<paramref name="loss0"/>) and <paramref name="points"/>
    /// log-spaced scales in [<paramref name="gammaMin"/>, <paramref name="gammaMax"/>]; while the best is the top of the
    /// grid, the grid moves up a decade, at most <paramref name="extensions"/> times. Returns the best γ and its loss
    /// (ties: the smaller γ).
    /// </summary>
    public static (double Gamma, double Loss) LineSearch(Func<double, double> loss, double loss0, double gammaMin, double gammaMax, int points, int extensions)
    {
        ArgumentNullException.ThrowIfNull(loss);
        double bestGamma = 0, best = loss0;
        double lo = gammaMin, hi = gammaMax;
        bool firstGrid = true;
        for (int round = 0; round <= extensions; round++)
        {
            int start = firstGrid ? 0 : 1;
            double top = 0;
            for (int j = start; j < points; j++)
            {
                double g = points == 1 ? hi : lo * Math.Pow(hi / lo, (double)j / (points - 1));
                double l = loss(g);
                if (l < best) (best, bestGamma) = (l, g);
                top = g;
            }
            if (bestGamma != top) break;
            firstGrid = false;
            (lo, hi) = (hi, hi * 10);
            if (points == 1) lo = hi;
        }
        return (bestGamma, best);
    }

    /// <summary>
    /// Gathers TINY's statistics at site <paramref name="siteIndex"/> over up to <paramref name="batches"/> batches of
    /// <paramref name="batchSize"/> samples taken in <paramref name="order"/>: each batch is one gradient-only pass of a
    /// <see cref="Trainer"/> on a wrapper that adds a zero tensor to the consumer's output (its gradient is the
    /// per-sample pre-activation gradient) while the producer's and consumer's inputs are recorded. The model runs in
    /// eval mode. Linear sites only.
    /// </summary>
    public static TinyStatistics Statistics(GrowableModel model, int siteIndex, InMemoryDataset data, int[] order, int batches, int batchSize)
    {
        var raw = RawStatistics(model, siteIndex, data, order, batches, batchSize, null);
        try
        {
            int d = raw.D, wd = raw.Wd, outs = raw.Outs;
            Matrix<double> Block(int r0, int rn, int c0, int cn) => raw.Block(r0, rn, c0, cn);
            return new TinyStatistics(Block(0, d, 0, d), Block(d, wd, d, wd), Block(d, wd, d + wd, outs), Block(0, d, d + wd, outs), Block(0, d, d, wd), raw.Rows, raw.Passes);
        }
        finally
        {
            raw.Return();
        }
    }

    // Σ XᵀX with X = [a, 1 | b, 1 | v] per row (row-major [Cols, Cols] in a pooled array: Return() gives it back)
    internal sealed record RawSums(double[] Sum, int Cols, int D, int Wd, int Outs, int Rows, int Passes)
    {
        // the [rn, cn] block at (r0, c0), divided by Rows
        public Matrix<double> Block(int r0, int rn, int c0, int cn) => FromRowMajor(Sum, Cols, r0, c0, rn, cn, Rows);

        public void Return() => ArrayPool<double>.Shared.Return(Sum);
    }

    // clock (optional): [0] += seconds in the passes, [1] += seconds building and accumulating the products
    internal static RawSums RawStatistics(GrowableModel model, int siteIndex, InMemoryDataset data, int[] order, int batches, int batchSize, double[]? clock)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(order);
        if (model.IsConvSite(siteIndex)) throw new ArgumentException($"tiny: site {model.Sites[siteIndex].Name} is a conv site; use ConvProblem");
        if (data.Count == 0 || order.Length == 0) throw new ArgumentException("tiny needs training data for its statistics");
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var site = model.Sites[siteIndex];
        int d = site.IncomingLength, wd = site.Width + (site.OutBias is null ? 0 : 1), outs = site.OutWeight.Dim(0);
        int cols = d + wd + outs;
        if (cols > MaxStatisticsSize)
            throw new ArgumentException($"tiny: site {site.Name} needs a {cols}×{cols} covariance (fan-in {site.FanIn}, width {site.Width}, {outs} outputs); at most {MaxStatisticsSize} is supported");
        var probe = new Probe(model, siteIndex);
        var trainer = new Trainer(probe, optimizer: null, Loss.For(data)) { Name = "tiny statistics" };
        int passes = BatchPasses.Count(order.Length, batches, batchSize);
        // scratch from the shared pool (fresh memory costs ~10 µs a page: these are ~12 MB at a 784-wide input)
        var sumBuf = ArrayPool<double>.Shared.Rent(cols * cols);
        var xtxBuf = ArrayPool<float>.Shared.Rent(cols * cols);
        var xBuf = ArrayPool<float>.Shared.Rent(Math.Min(batchSize, order.Length) * cols);
        var sum = sumBuf.AsSpan(0, cols * cols);
        var xtx = xtxBuf.AsSpan(0, cols * cols);
        sum.Clear();
        int rows = 0;
        using var measuring = BatchPasses.Measuring(model.Module);
        var frozen = StopParameterGradients(model);
        try
        {
            foreach (var batch in BatchPasses.Take(data, order, batches, batchSize))
            {
                int n = batch.Rows;
                long tp = Stopwatch.GetTimestamp();
                trainer.Backward(batch);
                long tc = Stopwatch.GetTimestamp();
                if (clock is not null) clock[0] += Stopwatch.GetElapsedTime(tp, tc).TotalSeconds;
                // X = [a, 1 | b, 1 | v] per row, v = −n·∂L/∂z (the per-sample loss gradient of the batch-mean loss)
                var x = xBuf.AsSpan(0, n * cols);
                var a = probe.ProducerInput!;
                var b = probe.ConsumerInput!;
                var g = probe.Shift.Grad!.Span;
                int fa = site.FanIn, fb = site.Width;
                for (int i = 0; i < n; i++)
                {
                    var row = x.Slice(i * cols, cols);
                    a.AsSpan(i * fa, fa).CopyTo(row);
                    if (d > fa) row[fa] = 1;
                    b.AsSpan(i * fb, fb).CopyTo(row[d..]);
                    if (wd > fb) row[d + fb] = 1;
                    for (int t = 0; t < outs; t++) row[d + wd + t] = -n * g[i * outs + t];
                }
                UpperGram(x, n, cols, xtx);
                for (int t = 0; t < sum.Length; t++) sum[t] += xtx[t];
                rows += n;
                if (clock is not null) clock[1] += Stopwatch.GetElapsedTime(tc).TotalSeconds;
            }
        }
        finally
        {
            RestoreParameterGradients(model, frozen);
        }
        ArrayPool<float>.Shared.Return(xtxBuf);
        ArrayPool<float>.Shared.Return(xBuf);
        MirrorUpper(sum, cols);
        return new RawSums(sumBuf, cols, d, wd, outs, rows, passes);
    }

    // the blocks on and above the diagonal of XᵀX (X row-major [rows, cols]) into c (row-major [cols, cols]), one GEMM per
    // band of 64 columns: about half the products of the full XᵀX; c's entries below the diagonal blocks are not written
    private static void UpperGram(ReadOnlySpan<float> x, int rows, int cols, Span<float> c)
    {
        const int Band = 64;
        for (int i0 = 0; i0 < cols; i0 += Band)
        {
            int bs = Math.Min(Band, cols - i0);
            Gemm.Multiply(bs, cols - i0, rows, x[i0..], cols, true, x[i0..], cols, false, c[(i0 * cols + i0)..], cols, false);
        }
    }

    // copies the upper triangle of a row-major [n, n] matrix onto its lower one
    private static void MirrorUpper(Span<double> a, int n)
    {
        for (int i = 1; i < n; i++)
            for (int j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
    }

    /// <summary>The most floats <see cref="ConvProblem"/> holds for one batch (the producer patches and their maps, the linearised patches unfolded for the consumer, the consumer rows and gradients).</summary>
    public const long MaxStoredFloats = 1L << 26;

    /// <summary>
    /// TINY's problem at conv site <paramref name="siteIndex"/> over up to <paramref name="batches"/> batches of
    /// <paramref name="batchSize"/> samples taken in <paramref name="order"/> (one gradient-only pass each, eval mode).
    /// The new channel's map is linearised at zero between the producer and the consumer (<see cref="LinearisedPath"/>):
    /// BatchNorm is 1/√(1+ε) for a new channel in eval mode, an activation its slope at 0 (<see cref="SlopeAtZero"/>),
    /// dropout the identity, a depthwise conv tied to the site (MobileNet's blocks) the exact map of the new channel's
    /// Dirac filter (subsampling by its stride), max pooling average pooling over the same windows (the average is a
    /// subgradient of the max at a constant map); average and adaptive pooling stay; any other layer there is rejected
    /// with the reason. The consumer's statistics S and M come from its real input rows, which hold the existing
    /// channels after their own depthwise conv and BatchNorm, unchanged by a new channel.
    /// </summary>
    public static TinyConvProblem ConvProblem(GrowableModel model, int siteIndex, InMemoryDataset data, int[] order, int batches, int batchSize, double ridge) =>
        TimedConvProblem(model, siteIndex, data, order, batches, batchSize, ridge, null);

    // clock (optional): [0] += seconds in the passes, [1] += building and accumulating the products, [2] += δW* and N;
    // defer (tests): keep the batches (true) or not (false) instead of choosing by cost
    internal static TinyConvProblem TimedConvProblem(GrowableModel model, int siteIndex, InMemoryDataset data, int[] order, int batches, int batchSize, double ridge, double[]? clock,
        bool? defer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(order);
        var site = model.Sites[siteIndex];
        var pw = model.ProducerWindow(siteIndex) ?? throw new ArgumentException($"tiny: site {site.Name} is not a conv site");
        if (data.Count == 0 || order.Length == 0) throw new ArgumentException("tiny needs training data for its statistics");
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var cw = model.Module.Layers[model.ConsumerLayer(siteIndex)].GrowthRole is GrowableRole { Window: { } w } ? w : null; // null: a Linear consumer after Flatten
        var between = LinearisedPath(model, siteIndex);
        int d = site.IncomingLength, fa = site.FanIn, outs = site.OutWeight.Dim(0), width = site.Width;
        int taps = site.FanOut / outs;
        int wb = width * taps + (site.OutBias is null ? 0 : 1);
        if (d > MaxStatisticsSize || wb + outs > MaxStatisticsSize)
            throw new ArgumentException($"tiny: site {site.Name} needs {d}×{d} and {wb}×{wb} covariances; at most {MaxStatisticsSize} is supported");
        var probe = new Probe(model, siteIndex);
        var trainer = new Trainer(probe, optimizer: null, Loss.For(data)) { Name = "tiny statistics" };
        int passes = BatchPasses.Count(order.Length, batches, batchSize);
        int c2 = wb + outs, dt = d * taps;
        // accumulated in double, each batch's products by the float GEMM: S_a = Σ aᵀa, [b, 1 | v]ᵀ[b, 1 | v], and either
        // - [b, 1 | v]ᵀ·G (G: the linearised maps unfolded like the consumer's rows), from which N = (VᵀG − δ*ᵀ·BᵀG) / samples
        //   follows once δ* is known, so no batch is kept; or (deferred) when BᵀG is much larger than the batch (a Linear
        //   consumer after Flatten: d·H·W columns of G against W·H·W consumer inputs)
        // - each batch's rows [b, 1 | v] and G are kept (pooled), and once δ* is known [v | v − b·δ*]ᵀ·G gives N₀ and N
        //   directly: 2·O·d·T products per row instead of (W·T + O)·d·T
        long perRowKept = dt + c2;
        bool deferred = defer ?? (long)c2 * dt > 2 * (2L * outs * dt + (long)outs * wb + 16 * perRowKept);
        var sa = new double[d * d];
        var sbv = new double[c2 * c2];
        double[] cg = [];
        var saF = new float[fa * fa];
        var sbvF = new float[c2 * c2];
        float[] cgF = [];
        var kept = new List<(float[] X, float[] G, int Rows)>();
        bool columns = cw is not null && !deferred; // a conv consumer: products per sample on the im2col columns, no rows
        float[] gcol = [];
        var colSum = new double[fa];
        float[] x = [];
        long aRows = 0, cRows = 0, samples = 0;
        using var measuring = BatchPasses.Measuring(model.Module);
        var frozen = StopParameterGradients(model);
        try
        {
            int bi = -1;
            foreach (var batch in BatchPasses.Take(data, order, batches, batchSize))
            {
                bi++;
                int n = batch.Rows;
                long tp = Stopwatch.GetTimestamp();
                trainer.Backward(batch);
                long tc = Stopwatch.GetTimestamp();
                if (clock is not null) clock[0] += Stopwatch.GetElapsedTime(tp, tc).TotalSeconds;
                var grad = probe.Shift.Grad!.Span;
                var zShape = probe.OutputShape!;
                using (Graph.NoGrad())
                using (TensorScope.Begin())
                {
                    // the producer's input patches as d maps per sample [n, d, H1, W1] (the conv's im2col columns: entry t of
                    // the patch at every position; the bias entry a map of ones), pushed through the linearised layers below;
                    // S_a = Σ_samples Σ_positions a·aᵀ from the same columns (upper bands, float per sample into saF)
                    var pshape = probe.ProducerShape!;
                    var geo = new Kernels.ConvGeometry(pshape[1], pshape[2], pshape[3], pw.Kernel, pw.Kernel, pw.Stride, pw.Stride, pw.Padding, pw.Padding);
                    int p = geo.OH * geo.OW, per = pshape[1] * pshape[2] * pshape[3];
                    var px = probe.ProducerInput!;
                    var g = Tensor.Empty(n, d, geo.OH, geo.OW);
                    var maps = g.Span;
                    const int Band = 64;
                    for (int i = 0; i < n; i++)
                    {
                        var mi = maps.Slice(i * d * p, d * p);
                        Kernels.ConvGemm.PackColumns(px.AsSpan(i * per, per), geo, 0, p, mi, p);
                        for (int i0 = 0; i0 < fa; i0 += Band)
                            Gemm.Multiply(Math.Min(Band, fa - i0), fa - i0, p, mi[(i0 * p)..], p, false, mi[(i0 * p)..], p, true, saF.AsSpan(i0 * fa + i0), fa, i > 0);
                        if (d > fa)
                        {
                            // the bias entry of a is 1: S_a's last row and column are the patches' column sums
                            for (int t = 0; t < fa; t++) colSum[t] += TensorPrimitives.Sum(mi.Slice(t * p, p));
                            mi.Slice(fa * p, p).Fill(1);
                        }
                    }
                    for (int i = 0; i < fa; i++)
                        for (int j = i; j < fa; j++) sa[i * d + j] += saF[i * fa + j];
                    foreach (var f in between) g = f(g);
                    if (columns)
                    {
                        // a conv consumer: per sample, its input's im2col columns with the ones row and v below them,
                        // Xc = [b | 1 | v]ᵀ as [c2, qc], and G's columns Gc [d·T, qc]; Σ Xc·Xcᵀ (upper bands) and Σ Xc·Gcᵀ
                        var cshape = probe.ConsumerShape!;
                        var cgeo = new Kernels.ConvGeometry(cshape[1], cshape[2], cshape[3], cw!.Kernel, cw.Kernel, cw.Stride, cw.Stride, cw.Padding, cw.Padding);
                        var ggeo = new Kernels.ConvGeometry(g.Dim(1), g.Dim(2), g.Dim(3), cw.Kernel, cw.Kernel, cw.Stride, cw.Stride, cw.Padding, cw.Padding);
                        int qc = cgeo.OH * cgeo.OW, cper = cshape[1] * cshape[2] * cshape[3], gper = g.Length / n, fbc = width * taps;
                        if (cgeo.K != fbc || ggeo.K != dt || ggeo.OH * ggeo.OW != qc)
                            throw new InvalidOperationException($"tiny: site {site.Name}: linearised map {ggeo.K}×{ggeo.OH * ggeo.OW} does not fit the consumer's {cgeo.K}×{qc} columns");
                        if (zShape.Aggregate(1L, (s, v) => s * v) != (long)n * outs * qc) throw new InvalidOperationException($"tiny: site {site.Name}: consumer output {string.Join('×', zShape)} does not match {n * qc} rows of {outs}");
                        long heldC = (long)n * qc * (dt + c2) + (long)n * p * (fa + d);
                        if (heldC > MaxStoredFloats)
                            throw new ArgumentException($"tiny: site {site.Name} would hold {heldC} floats of statistics per batch (at most {MaxStoredFloats}); use smaller batches");
                        if (bi == 0) (cg, cgF) = (new double[c2 * dt], new float[c2 * dt]);
                        if (x.Length != c2 * qc) x = new float[c2 * qc];
                        if (gcol.Length != dt * qc) gcol = new float[dt * qc];
                        var cinAll = probe.ConsumerInput!;
                        var gs = g.Span;
                        for (int i = 0; i < n; i++)
                        {
                            Kernels.ConvGemm.PackColumns(cinAll.AsSpan(i * cper, cper), cgeo, 0, qc, x, qc);
                            if (wb > fbc) x.AsSpan(fbc * qc, qc).Fill(1);
                            for (int u = 0; u < outs; u++) TensorPrimitives.Multiply(grad.Slice((i * outs + u) * qc, qc), -n, x.AsSpan((wb + u) * qc, qc));
                            Kernels.ConvGemm.PackColumns(gs.Slice(i * gper, gper), ggeo, 0, qc, gcol, qc);
                            for (int i0 = 0; i0 < c2; i0 += Band)
                                Gemm.Multiply(Math.Min(Band, c2 - i0), c2 - i0, qc, x.AsSpan(i0 * qc), qc, false, x.AsSpan(i0 * qc), qc, true, sbvF.AsSpan(i0 * c2 + i0), c2, i > 0);
                            Gemm.Multiply(c2, dt, qc, x, qc, false, gcol, qc, true, cgF, dt, i > 0);
                        }
                        for (int t = 0; t < sbv.Length; t++) sbv[t] += sbvF[t];
                        for (int t = 0; t < cg.Length; t++) cg[t] += cgF[t];
                        aRows += (long)n * p;
                        cRows += (long)n * qc;
                        samples += n;
                        if (clock is not null) clock[1] += Stopwatch.GetElapsedTime(tc).TotalSeconds;
                        continue;
                    }
                    // consumer rows: patches of the consumer's input (conv) or the flattened input (Linear); G unfolded alike
                    var cin = Tensor.FromArray(probe.ConsumerInput!, probe.ConsumerShape!);
                    Tensor gu, bRows;
                    if (cw is null) (gu, bRows) = (Ops.Flatten(g), Ops.Flatten(cin));
                    else (gu, bRows) = (GrowableModel.Patches(g, cw), GrowableModel.Patches(cin, cw));
                    int rows = bRows.Dim(0), q = rows / n;
                    if (gu.Dim(0) != rows || gu.Dim(1) != dt || bRows.Dim(1) != width * taps)
                        throw new InvalidOperationException($"tiny: site {site.Name}: linearised map {gu.Dim(0)}×{gu.Dim(1)} does not fit the consumer's {rows}×{bRows.Dim(1)} rows");
                    if (zShape.Aggregate(1L, (s, v) => s * v) != (long)n * outs * q) throw new InvalidOperationException($"tiny: site {site.Name}: consumer output {string.Join('×', zShape)} does not match {rows} rows of {outs}");
                    long held = (long)rows * (dt + c2) + (long)n * p * (fa + d);
                    if (held > MaxStoredFloats)
                        throw new ArgumentException($"tiny: site {site.Name} would hold {held} floats of statistics per batch (at most {MaxStoredFloats}); use smaller batches");
                    // [b, 1 | v] rows, v = −n·∂L/∂z per consumer position (z: [n, O] or [n, O, H2, W2])
                    int fb = width * taps;
                    if (x.Length != rows * c2) x = new float[rows * c2];
                    var bs = bRows.Span;
                    for (int r = 0; r < rows; r++)
                    {
                        int i = r / q, pos = r % q;
                        bs.Slice(r * fb, fb).CopyTo(x.AsSpan(r * c2, fb));
                        if (wb > fb) x[r * c2 + fb] = 1;
                        for (int u = 0; u < outs; u++) x[r * c2 + wb + u] = -n * grad[(i * outs + u) * q + pos];
                    }
                    UpperGram(x.AsSpan(0, rows * c2), rows, c2, sbvF);
                    for (int t = 0; t < sbv.Length; t++) sbv[t] += sbvF[t];
                    if (bi == 0)
                    {
                        // keep the batches only if all of them fit
                        if ((long)passes * rows * perRowKept > MaxStoredFloats) deferred = false;
                        if (!deferred) (cg, cgF) = (new double[c2 * dt], new float[c2 * dt]);
                    }
                    if (deferred)
                    {
                        var xk = ArrayPool<float>.Shared.Rent(rows * c2);
                        var gk = ArrayPool<float>.Shared.Rent(rows * dt);
                        x.AsSpan(0, rows * c2).CopyTo(xk);
                        gu.Span.CopyTo(gk);
                        kept.Add((xk, gk, rows));
                    }
                    else
                    {
                        Gemm.Multiply(c2, dt, rows, x, c2, true, gu.Span, dt, false, cgF, dt, false);
                        for (int t = 0; t < cg.Length; t++) cg[t] += cgF[t];
                    }
                    aRows += (long)n * p;
                    cRows += rows;
                    samples += n;
                    if (clock is not null) clock[1] += Stopwatch.GetElapsedTime(tc).TotalSeconds;
                }
            }
        }
        finally
        {
            RestoreParameterGradients(model, frozen);
        }
        if (d > fa)
        {
            for (int t = 0; t < fa; t++) sa[t * d + fa] = sa[fa * d + t] = colSum[t];
            sa[fa * d + fa] = aRows;
        }
        MirrorUpper(sa, d);
        MirrorUpper(sbv, c2);
        long td = Stopwatch.GetTimestamp();
        var sA = FromRowMajor(sa, d, 0, 0, d, d, aRows);
        var sB = FromRowMajor(sbv, c2, 0, 0, wb, wb, cRows);
        var mB = FromRowMajor(sbv, c2, 0, wb, wb, outs, cRows);
        var delta = OptimalDelta(sB, mB, ridge);
        double[] n0Acc, nAcc;
        if (deferred)
        {
            // per kept batch: W = [v | v − b·δ*] (rows × 2·O, float), then WᵀG into N₀ and N
            n0Acc = new double[outs * dt];
            nAcc = new double[outs * dt];
            var df = new float[wb * outs];
            for (int i = 0; i < wb; i++)
                for (int u = 0; u < outs; u++) df[i * outs + u] = (float)delta[i, u];
            var wF = new float[2 * outs * dt];
            try
            {
                foreach (var (xk, gk, rows) in kept)
                {
                    var wr = ArrayPool<float>.Shared.Rent(rows * 2 * outs);
                    var bd = ArrayPool<float>.Shared.Rent(rows * outs);
                    try
                    {
                        Gemm.Multiply(rows, outs, wb, xk, c2, false, df, outs, false, bd, outs, false);
                        for (int r = 0; r < rows; r++)
                            for (int u = 0; u < outs; u++)
                            {
                                float v = xk[r * c2 + wb + u];
                                wr[r * 2 * outs + u] = v;
                                wr[r * 2 * outs + outs + u] = v - bd[r * outs + u];
                            }
                        Gemm.Multiply(2 * outs, dt, rows, wr, 2 * outs, true, gk, dt, false, wF, dt, false);
                    }
                    finally
                    {
                        ArrayPool<float>.Shared.Return(wr);
                        ArrayPool<float>.Shared.Return(bd);
                    }
                    for (int t = 0; t < outs * dt; t++)
                    {
                        n0Acc[t] += wF[t];
                        nAcc[t] += wF[outs * dt + t];
                    }
                }
            }
            finally
            {
                foreach (var (xk, gk, _) in kept)
                {
                    ArrayPool<float>.Shared.Return(xk);
                    ArrayPool<float>.Shared.Return(gk);
                }
            }
        }
        else
        {
            // VᵀG (rows wb… of cg) and VᵀG − δ*ᵀ·BᵀG, each [O, d·T]
            n0Acc = cg.AsSpan(wb * dt, outs * dt).ToArray();
            nAcc = (double[])n0Acc.Clone();
            for (int u = 0; u < outs; u++)
            {
                var dst = nAcc.AsSpan(u * dt, dt);
                for (int i = 0; i < wb; i++) TensorPrimitives.MultiplyAdd(cg.AsSpan(i * dt, dt), -delta[i, u], dst, dst);
            }
        }
        // N[e, u·T + t] = Σ v_proj[u]·G[e·T + t] / samples
        Matrix<double> Arrange(double[] acc) => Matrix<double>.Build.Dense(d, outs * taps, (e, j) => acc[(j / taps) * d * taps + e * taps + j % taps] / samples);
        var problem = new TinyConvProblem(sA, sB, mB, delta, Arrange(nAcc), Arrange(n0Acc), taps, passes);
        if (clock is not null) clock[2] += Stopwatch.GetElapsedTime(td).TotalSeconds;
        return problem;
    }

    /// <summary>
    /// Whether every layer between site <paramref name="siteIndex"/>'s producer and its consumer acts on each channel
    /// alone and is positively homogeneous on a new one (f(γx) = γ·f(x) for γ &gt; 0): BatchNorm at a new channel's
    /// identity entry, ReLU, ReLU-one, leaky ReLU, PReLU and the identity, dropout in eval mode, pooling, Flatten and a
    /// depthwise conv at its Dirac entry. Then new neurons (γα, γω) and the consumer's move γ²·δW* give the consumer the
    /// output z(γ) = z0 + γ²·Δz, with z0 its output now and Δz its output with weights [δW* | ω] on the input the
    /// neurons α give (<see cref="SplitAtConsumer"/>), so the line search runs only the layers after the consumer.
    /// </summary>
    internal static bool HomogeneousPath(GrowableModel model, int siteIndex)
    {
        var layers = model.Module.Layers;
        for (int i = model.ProducerLayer(siteIndex) + 1; i < model.ConsumerLayer(siteIndex); i++)
        {
            bool ok = layers[i] switch
            {
                BatchNorm or Dropout or Flatten or Pool => true,
                Activation { Config.Kind: ActivationKind.Relu or ActivationKind.ReluOne or ActivationKind.LeakyRelu or ActivationKind.PRelu or ActivationKind.Identity } => true,
                var l => l.GrowthRole is DepthwiseRole,
            };
            if (!ok) return false;
        }
        return true;
    }

    // the line-search batch at the consumer's output: z0 (the model as it is) and Δz (see HomogeneousPath)
    private sealed class ConsumerSplit(float[] z0, float[] dz, int[] shape)
    {
        // the mean loss of the batch with the consumer's output z0 + g2·Δz, running only the layers after the consumer
        public double Loss(GrowableModel model, int siteIndex, double g2, Batch batch, Loss loss)
        {
            bool was = model.Module.IsTraining;
            model.Module.Eval();
            try
            {
                using (Graph.NoGrad())
                using (TensorScope.Begin())
                {
                    var z = Tensor.Empty(shape);
                    if (g2 == 0) z0.CopyTo(z.Span);
                    else TensorPrimitives.MultiplyAdd(dz, (float)g2, z0, z.Span);
                    var layers = model.Module.Layers;
                    for (int i = model.ConsumerLayer(siteIndex) + 1; i < layers.Count; i++) z = layers[i].Forward(z);
                    return loss.Compute(z, batch).Item();
                }
            }
            finally
            {
                model.Module.Train(was);
            }
        }
    }

    // runs the layers from the producer to the consumer's input once (the new neurons at γ = 1, no outgoing weights), then
    // the consumer twice: as it is (z0), and after setDelta has set its weights to Δ (Δz); eval mode
    private static ConsumerSplit SplitAtConsumer(GrowableModel model, int siteIndex, float[] input, int[] shape, Action setDelta)
    {
        bool was = model.Module.IsTraining;
        model.Module.Eval();
        try
        {
            using (Graph.NoGrad())
            using (TensorScope.Begin())
            {
                var layers = model.Module.Layers;
                int ci = model.ConsumerLayer(siteIndex);
                var x = Tensor.FromArray(input, shape);
                for (int i = model.ProducerLayer(siteIndex); i < ci; i++) x = layers[i].Forward(x);
                var z0 = layers[ci].Forward(x);
                var zShape = z0.ShapeArray();
                var a = z0.ToArray();
                setDelta();
                return new ConsumerSplit(a, layers[ci].Forward(x).ToArray(), zShape);
            }
        }
        finally
        {
            model.Module.Train(was);
        }
    }

    /// <summary>
    /// The layers between site <paramref name="siteIndex"/>'s producer and its consumer as the linear maps a new channel
    /// sees at insertion (zero incoming weights, so every layer acts on it around 0), each applied to maps
    /// [batch, channels, H, W] whose channels all take that map:
    /// <list type="bullet">
    /// <item>BatchNorm (eval mode; a new channel has γ 1, β 0, running mean 0, variance 1): x/√(1+ε), exact.</item>
    /// <item>Activation: its slope at 0 (<see cref="SlopeAtZero"/>): 1 for the ReLU family (σ′(0+), TINY's convention),
    /// identity and tanh; ½ for swish; ¼ for the sigmoid.</item>
    /// <item>Dropout (eval mode) and Flatten: identity.</item>
    /// <item>A depthwise conv (tied to the site, <see cref="GrowthSite.Tied"/>): a new channel's filter is the Dirac
    /// (centre tap 1, bias 0), so the map is exact: each output position copies the input at its window's centre,
    /// out[y, x] = in[y·s + ⌊k/2⌋ − p, x·s + ⌊k/2⌋ − p] (0 in the padding), i.e. subsampling by the stride s.</item>
    /// <item>Max pooling: average pooling over the same windows (at a constant map the average is a subgradient of the
    /// max); average and adaptive pooling: themselves.</item>
    /// </list>
    /// Any other layer there is rejected with one line naming it.
    /// </summary>
    internal static List<Func<Tensor, Tensor>> LinearisedPath(GrowableModel model, int siteIndex)
    {
        var layers = model.Module.Layers;
        var name = model.Sites[siteIndex].Name;
        int pi = model.ProducerLayer(siteIndex), ci = model.ConsumerLayer(siteIndex);
        var between = new List<Func<Tensor, Tensor>>();
        for (int i = pi + 1; i < ci; i++)
        {
            var layer = layers[i];
            between.Add(layer switch
            {
                BatchNorm bn => Scaled(1 / Math.Sqrt(1 + (double)bn.Config.Eps)),
                Activation a => Scaled(SlopeAtZero(a.Config.Kind)),
                Dropout or Flatten => t => t,
                Pool { Config: { Kind: PoolKind.Max or PoolKind.Average } pc } => t => Ops.AvgPool2d(t, pc.Kernel, pc.Stride, pc.Padding),
                Pool { Config: var pc } => t => pc.FlattenOutput ? Ops.Flatten(Ops.AdaptiveAvgPool2d(t, pc.OutputSize, pc.OutputSize)) : Ops.AdaptiveAvgPool2d(t, pc.OutputSize, pc.OutputSize),
                _ when layer.GrowthRole is DepthwiseRole dw => t => DiracDepthwise(t, dw.Window),
                var l => throw new ArgumentException($"tiny: site {name}: layer {i} ({l}) between the producer and its consumer cannot be linearised"),
            });
        }
        return between;
    }

    /// <summary>
    /// The slope at 0 TINY gives an activation on a new neuron's path: σ′(0+) = 1 for ReLU, ReLU-one, leaky ReLU, PReLU,
    /// ELU and WIB-ReLU (the right derivative, as in TINY and gromo), 1 for the identity and tanh, ½ for swish
    /// (x·sigmoid(x)), ¼ for the sigmoid.
    /// </summary>
    public static double SlopeAtZero(ActivationKind kind) => kind switch
    {
        ActivationKind.Swish => 0.5,
        ActivationKind.Sigmoid => 0.25,
        _ => 1,
    };

    // multiplies the maps by a constant in place (they are the linearisation's own scratch); 1 leaves them as they are
    private static Func<Tensor, Tensor> Scaled(double factor)
    {
        if (factor == 1) return t => t;
        float f = (float)factor;
        return t =>
        {
            TensorPrimitives.Multiply(t.Span, f, t.Span);
            return t;
        };
    }

    // a depthwise conv acting on new channels: their Dirac filter copies, at each output position, the input at the
    // window's centre tap (⌊k/2⌋, ⌊k/2⌋), zero in the padding
    private static Tensor DiracDepthwise(Tensor t, ConvWindow w)
    {
        int planes = t.Dim(0) * t.Dim(1), h = t.Dim(2), wd = t.Dim(3);
        int oh = (h + 2 * w.Padding - w.Kernel) / w.Stride + 1, ow = (wd + 2 * w.Padding - w.Kernel) / w.Stride + 1;
        int off = w.Kernel / 2 - w.Padding;
        var y = Tensor.Zeros(t.Dim(0), t.Dim(1), oh, ow);
        var src = t.Span;
        var dst = y.Span;
        for (int pl = 0; pl < planes; pl++)
            for (int oy = 0; oy < oh; oy++)
            {
                int iy = oy * w.Stride + off;
                if ((uint)iy >= (uint)h) continue;
                for (int ox = 0; ox < ow; ox++)
                {
                    int ix = ox * w.Stride + off;
                    if ((uint)ix < (uint)wd) dst[(pl * oh + oy) * ow + ox] = src[(pl * h + iy) * wd + ix];
                }
            }
        return y;
    }

    /// <summary>
    /// δW* = (S + r·mean(diag S)·I)⁻¹·M, the least-squares update of the consumer ([W′, O]: one row per consumer
    /// input, bias last), by a Cholesky solve (<see cref="SpdCholesky"/>).
    /// </summary>
    public static Matrix<double> OptimalDelta(Matrix<double> s, Matrix<double> m, double ridge)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(m);
        if (s.RowCount != s.ColumnCount) throw new ArgumentException($"covariance is {s.RowCount}×{s.ColumnCount}, not square");
        return RidgeSolve(ColumnMajor(s), s.RowCount, 1, s.RowCount, ridge, m);
    }

    /// <summary>N = M_a − P·δW* = mean aᵀ·v_proj, the producer-input moment of the projected desired update ([D′, O]).</summary>
    public static Matrix<double> ProjectedMoment(TinyStatistics stats, Matrix<double> delta)
    {
        ArgumentNullException.ThrowIfNull(stats);
        ArgumentNullException.ThrowIfNull(delta);
        var p = stats.Cross;
        int d = p.RowCount, w = p.ColumnCount, outs = delta.ColumnCount;
        if (delta.RowCount != w || stats.InputMoment.RowCount != d || stats.InputMoment.ColumnCount != outs)
            throw new ArgumentException($"P is {d}×{w}, δW* {delta.RowCount}×{outs}, M_a {stats.InputMoment.RowCount}×{stats.InputMoment.ColumnCount}");
        // column by column on the column-major storage: N[:, u] = M_a[:, u] − Σ_k P[:, k]·δ[k, u] (SIMD axpy; MathNet's
        // managed product runs at about 1 GFLOP/s)
        var n = stats.InputMoment.ToColumnMajorArray();
        var pc = ColumnMajor(p);
        var dc = ColumnMajor(delta);
        for (int u = 0; u < outs; u++)
        {
            var dst = n.AsSpan(u * d, d);
            for (int k = 0; k < w; k++) TensorPrimitives.MultiplyAdd(pc.AsSpan(k * d, d), -dc[u * w + k], dst, dst);
        }
        return Matrix<double>.Build.Dense(d, outs, n);
    }

    // the column-major storage of a dense matrix without a copy (a copy for any other storage)
    private static double[] ColumnMajor(Matrix<double> m) =>
        m.Storage is MathNet.Numerics.LinearAlgebra.Storage.DenseColumnMajorMatrixStorage<double> st ? st.Data : m.ToColumnMajorArray();

    // the [rn, cn] block at (r0, c0) of a row-major array with row length ld, each entry divided by count, as a MathNet
    // matrix (filled by plain loops: MathNet's per-entry initialiser is several times slower at 785×785)
    private static Matrix<double> FromRowMajor(double[] src, int ld, int r0, int c0, int rn, int cn, double count)
    {
        var a = new double[rn * cn];
        const int Tile = 32; // transposed in tiles, so the column-major writes stay in cache
        for (int i0 = 0; i0 < rn; i0 += Tile)
        {
            int i1 = Math.Min(rn, i0 + Tile);
            for (int j0 = 0; j0 < cn; j0 += Tile)
            {
                int j1 = Math.Min(cn, j0 + Tile);
                for (int i = i0; i < i1; i++)
                {
                    int o = (r0 + i) * ld + c0;
                    for (int j = j0; j < j1; j++) a[j * rn + i] = src[o + j] / count;
                }
            }
        }
        return Matrix<double>.Build.Dense(rn, cn, a);
    }

    /// <summary>
    /// TINY's new neurons for the producer-input covariance <paramref name="s"/> [D′, D′] and moment <paramref name="n"/>
    /// [D′, O]: up to <paramref name="count"/> directions (at most min(D′, O)) with σ_k ≥ <paramref name="singularThreshold"/>·σ_max
    /// and σ_k &gt; 0 (see <see cref="TinyNeurons"/>). S is regularised by <paramref name="ridge"/>·mean(diag S).
    /// </summary>
    public static TinyNeurons NewNeurons(Matrix<double> s, Matrix<double> n, int count, double ridge, double singularThreshold)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(n);
        if (s.RowCount != s.ColumnCount) throw new ArgumentException($"covariance is {s.RowCount}×{s.ColumnCount}, not square");
        return NewNeuronsCore(s.RowCount, () => s, (r, b) => RidgeSolve(ColumnMajor(s), s.RowCount, 1, s.RowCount, r, b), n, count, ridge, singularThreshold);
    }

    // S given as a matrix on demand (the D′ < O side) and as a ridge solve (the O ≤ D′ side)
    private static TinyNeurons NewNeuronsCore(int dim, Func<Matrix<double>> sMatrix, Func<double, Matrix<double>, Matrix<double>> ridgeSolve,
        Matrix<double> n, int count, double ridge, double singularThreshold)
    {
        ArgumentNullException.ThrowIfNull(n);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int outs = n.ColumnCount;
        if (n.RowCount != dim) throw new ArgumentException($"N has {n.RowCount} rows, S is {dim}×{dim}");
        int limit = Math.Min(count, Math.Min(dim, outs));
        var pairs = new List<(double Sigma, Vector<double> Alpha, Vector<double> Omega)>();
        if (dim >= outs)
        {
            // the [O, O] side: Nᵀ·S⁻¹·N = (S^{-1/2}N)ᵀ(S^{-1/2}N) has eigenvalues σ² and eigenvectors v; α = S⁻¹·N·v / √σ = √σ·S^{-1/2}·u
            var z = ridgeSolve(ridge, n);
            // NᵀZ and Z·w by SIMD dot products and axpys on the column-major storage (MathNet's managed products are
            // ~1 GFLOP/s); NᵀZ is symmetric in exact arithmetic, its upper triangle is mirrored
            var nc = ColumnMajor(n);
            var zc = ColumnMajor(z);
            var ntz = Matrix<double>.Build.Dense(outs, outs);
            for (int i = 0; i < outs; i++)
                for (int j = i; j < outs; j++)
                    ntz[i, j] = ntz[j, i] = TensorPrimitives.Dot(nc.AsSpan(i * dim, dim), zc.AsSpan(j * dim, dim));
            foreach (var (sg, v) in TopEigen(ntz, limit, singularThreshold))
            {
                var w = Canonical(v);
                var a = new double[dim];
                for (int u = 0; u < outs; u++) TensorPrimitives.MultiplyAdd(zc.AsSpan(u * dim, dim), w[u], a, a);
                TensorPrimitives.Divide(a, Math.Sqrt(sg), a);
                pairs.Add((sg, Vector<double>.Build.Dense(a), w * Math.Sqrt(sg)));
            }
        }
        else
        {
            // the [D′, D′] side (conv sites: O·T outgoing entries per neuron): C = S^{-1/2}·N, C·Cᵀ has eigenvalues σ²
            // and eigenvectors u; v = Cᵀ·u / σ, α = √σ·S^{-1/2}·u
            // S = L·Lᵀ (SpdCholesky, ridge as in the solves) instead of S^{−1/2} from an eigendecomposition: L⁻¹ = Q·S^{−1/2}
            // with Q orthogonal, so C′ = L⁻¹N has C's singular values and right vectors, its left ones are u′ = Q·u, and
            // α = √σ·S^{−1/2}·u = √σ·L⁻ᵀ·u′. Products by SIMD dot products and axpys on row-major arrays (MathNet's
            // managed products and a second eigendecomposition took ~0.3 s at D′ = 162, O·T = 1764).
            var sm = sMatrix();
            if (sm.RowCount != dim || sm.ColumnCount != dim) throw new ArgumentException($"covariance is {sm.RowCount}×{sm.ColumnCount}, N has {dim} rows");
            if (!(ridge > 0)) throw new ArgumentOutOfRangeException(nameof(ridge), "ridge must be > 0");
            var sc = ColumnMajor(sm);
            double mean = 0;
            for (int i = 0; i < dim; i++) mean += sc[i * dim + i];
            mean /= Math.Max(1, dim);
            double r = ridge * (mean > 0 ? mean : 1);
            var l = new double[dim * dim];
            for (int i = 0; i < dim; i++)
            {
                for (int j = 0; j < i; j++) l[i * dim + j] = 0.5 * (sc[i * dim + j] + sc[j * dim + i]);
                l[i * dim + i] = sc[i * dim + i] + r;
            }
            SpdCholesky.Factor(l, dim);
            // C′ = L⁻¹·N row by row (forward substitution on rows of length outs)
            var cm = n.ToRowMajorArray();
            for (int i = 0; i < dim; i++)
            {
                var row = cm.AsSpan(i * outs, outs);
                for (int k = 0; k < i; k++)
                    if (l[i * dim + k] != 0) TensorPrimitives.MultiplyAdd(cm.AsSpan(k * outs, outs), -l[i * dim + k], row, row);
                TensorPrimitives.Divide(row, l[i * dim + i], row);
            }
            var cct = Matrix<double>.Build.Dense(dim, dim);
            for (int i = 0; i < dim; i++)
                for (int j = i; j < dim; j++) cct[i, j] = cct[j, i] = TensorPrimitives.Dot(cm.AsSpan(i * outs, outs), cm.AsSpan(j * outs, outs));
            foreach (var (sg, u0) in TopEigen(cct, limit, singularThreshold))
            {
                var va = new double[outs];
                for (int i = 0; i < dim; i++) TensorPrimitives.MultiplyAdd(cm.AsSpan(i * outs, outs), u0[i] / sg, va, va);
                var v = Vector<double>.Build.Dense(va);
                var w = Canonical(v);
                var u = w.Equals(v) ? u0 : -u0;
                // α = √σ·L⁻ᵀ·u′ (back substitution)
                var a = new double[dim];
                for (int i = dim - 1; i >= 0; i--)
                {
                    double t = u[i];
                    for (int k = i + 1; k < dim; k++) t -= l[k * dim + i] * a[k];
                    a[i] = t / l[i * dim + i];
                }
                TensorPrimitives.Multiply(a, Math.Sqrt(sg), a);
                pairs.Add((sg, Vector<double>.Build.Dense(a), w * Math.Sqrt(sg)));
            }
        }
        var alpha = Matrix<double>.Build.Dense(pairs.Count, dim);
        var omega = Matrix<double>.Build.Dense(pairs.Count, outs);
        var sing = new double[pairs.Count];
        for (int k = 0; k < pairs.Count; k++)
        {
            sing[k] = pairs[k].Sigma;
            alpha.SetRow(k, pairs[k].Alpha);
            omega.SetRow(k, pairs[k].Omega);
        }
        return new TinyNeurons(alpha, omega, sing);
    }

    // the top eigenpairs (√λ, vector) of a symmetric PSD matrix, at most limit, with √λ > 0 and ≥ threshold·√λ_max
    private static List<(double Sigma, Vector<double> Vector)> TopEigen(Matrix<double> k, int limit, double threshold)
    {
        var evd = k.Evd(Symmetricity.Symmetric);
        var vals = evd.EigenValues.Select(e => e.Real).ToArray();
        var idx = Enumerable.Range(0, vals.Length).OrderByDescending(i => vals[i]).ThenBy(i => i).ToArray();
        var r = new List<(double, Vector<double>)>();
        if (idx.Length == 0) return r;
        double smax = Math.Sqrt(Math.Max(0, vals[idx[0]]));
        foreach (int i in idx)
        {
            if (r.Count == limit) break;
            double sg = Math.Sqrt(Math.Max(0, vals[i]));
            if (!(sg > 0) || sg < threshold * smax) break;
            r.Add((sg, evd.EigenVectors.Column(i)));
        }
        return r;
    }

    // the sign of a singular pair fixed by its outgoing vector: the largest |entry| positive
    private static Vector<double> Canonical(Vector<double> v)
    {
        int arg = 0;
        for (int t = 1; t < v.Count; t++) if (Math.Abs(v[t]) > Math.Abs(v[arg])) arg = t;
        return v[arg] < 0 ? -v : v;
    }

    // (S + r·mean(diag S)·I)⁻¹·B for the symmetrised S, by SpdCholesky (MathNet's managed Cholesky is ~1 GFLOP/s)
    // S = the leading [dim, dim] block of sc (row-major, row length ld; a column-major matrix's storage gives Sᵀ, the
    // same after symmetrising), each entry divided by count
    private static Matrix<double> RidgeSolve(double[] src, int ld, double count, int dim, double ridge, Matrix<double> b)
    {
        if (!(ridge > 0)) throw new ArgumentOutOfRangeException(nameof(ridge), "ridge must be > 0");
        int m = b.ColumnCount;
        if (b.RowCount != dim) throw new ArgumentException($"right-hand side has {b.RowCount} rows, the covariance is {dim}×{dim}");
        double mean = 0;
        for (int i = 0; i < dim; i++) mean += src[i * ld + i] / count;
        mean /= Math.Max(1, dim);
        double r = ridge * (mean > 0 ? mean : 1);
        var buf = ArrayPool<double>.Shared.Rent(dim * dim); // scratch for the factor (fresh memory is expensive)
        try
        {
            var a = buf.AsMemory(0, dim * dim);
            var sp = a.Span;
            for (int i = 0; i < dim; i++)
            {
                for (int j = 0; j < i; j++) sp[i * dim + j] = 0.5 * (src[i * ld + j] / count + src[j * ld + i] / count);
                sp[i * dim + i] = src[i * ld + i] / count + r;
            }
            SpdCholesky.FactorParallel(a, dim);
            var x = b.ToColumnMajorArray(); // the columns of B one after another: Bᵀ row-major
            SpdCholesky.Solve(a.Span, dim, x, m);
            return Matrix<double>.Build.Dense(dim, m, x);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buf);
        }
    }

    // only the gradient at the consumer's output is used: while the parameters do not require gradients, the backward
    // pass stops there and skips every weight gradient (the gradient it returns is the same)
    private static bool[] StopParameterGradients(GrowableModel model)
    {
        var ps = model.Parameters().ToArray();
        var was = ps.Select(p => p.RequiresGrad).ToArray();
        foreach (var p in ps) p.RequiresGrad = false;
        return was;
    }

    private static void RestoreParameterGradients(GrowableModel model, bool[] was)
    {
        int i = 0;
        foreach (var p in model.Parameters()) p.RequiresGrad = was[i++];
    }

    // the line-search batch at the producer's input (eval mode), so each evaluation runs only the layers from the producer on
    private static (float[] Data, int[] Shape) ProducerInput(GrowableModel model, int siteIndex, Batch batch)
    {
        bool was = model.Module.IsTraining;
        model.Module.Eval();
        try
        {
            using (Graph.NoGrad())
            using (TensorScope.Begin())
            {
                var x = model.ForwardToProducer(batch.X, siteIndex);
                return (x.ToArray(), x.ShapeArray());
            }
        }
        finally
        {
            model.Module.Train(was);
        }
    }

    private static double BatchLoss(GrowableModel model, int siteIndex, float[] input, int[] shape, Batch batch, Loss loss)
    {
        bool was = model.Module.IsTraining;
        model.Module.Eval();
        try
        {
            using (Graph.NoGrad())
            using (TensorScope.Begin())
                return loss.Compute(model.ForwardFromProducer(Tensor.FromArray(input, shape), siteIndex), batch).Item();
        }
        finally
        {
            model.Module.Train(was);
        }
    }

    private static double MeanIncomingNorm(GrowthSite site, int first, int count, int fan)
    {
        if (count == 0) return 0;
        var w = new float[fan];
        double sum = 0;
        for (int j = first; j < first + count; j++)
        {
            site.GetIncoming(j, w);
            double n2 = 0;
            foreach (float v in w) n2 += (double)v * v;
            sum += Math.Sqrt(n2);
        }
        return sum / count;
    }

    // the model with a zero shift added to the consumer's output; records the producer's and consumer's inputs
    private sealed class Probe : Module
    {
        private readonly GrowableModel _model;
        private readonly int _site;

        public Probe(GrowableModel model, int site)
        {
            _model = model;
            _site = site;
            RegisterModule("model", model.Module);
            Shift = RegisterParameter("shift", Tensor.Zeros(1, 1).Persist());
        }

        public Tensor Shift { get; }

        public float[]? ProducerInput { get; private set; }

        public int[]? ProducerShape { get; private set; }

        public float[]? ConsumerInput { get; private set; }

        public int[]? ConsumerShape { get; private set; }

        public int[]? OutputShape { get; private set; }

        // the buffers are kept across batches of one size (fresh memory is expensive); the zero shift is never updated
        public override Tensor Forward(Tensor x) =>
            _model.ForwardWithConsumerShift(x, _site, z =>
            {
                var shape = z.ShapeArray();
                if (OutputShape is null || !OutputShape.AsSpan().SequenceEqual(shape))
                {
                    OutputShape = shape;
                    Shift.Replace(new float[z.Length], OutputShape);
                }
                return Shift;
            }, a => (ProducerInput, ProducerShape) = (Keep(ProducerInput, a), a.ShapeArray()), b => (ConsumerInput, ConsumerShape) = (Keep(ConsumerInput, b), b.ShapeArray()));

        private static float[] Keep(float[]? buffer, Tensor t)
        {
            if (buffer is null || buffer.Length != t.Length) buffer = new float[t.Length];
            t.Span.CopyTo(buffer);
            return buffer;
        }
    }
}
