using MathNet.Numerics.LinearAlgebra;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>
/// GradMax (Evci et al. 2022): new neurons get zero (or ε-scaled) incoming weights and zero bias, and outgoing weights
/// along the top left singular vectors of G = ∂L/∂W_aux, the gradient of a zero auxiliary layer W_aux that maps the
/// producer's input a_{l−1} straight to the consumer's pre-activation z_{l+1}: G = Σ_batch δ_{l+1}ᵀ·a_{l−1},
/// shape [consumer outputs, producer fan-in]. With zero incoming weights (and an activation whose derivative at 0 is 1,
/// <see cref="ActivationKind.ReluOne"/>) the new neurons' incoming gradient right after insertion is W_newᵀ·G, whose
/// norm these directions maximise for a given outgoing norm. As the method requires, a plain ReLU between the grown
/// producer and its consumer is switched to <see cref="ActivationKind.ReluOne"/> (same values; with derivative 0 at 0
/// the zero-incoming neurons would never get a gradient). The SVD is MathNet.Numerics'.
/// <para>
/// More neurons than the rank of G: neuron k takes the k-th left singular vector of the full SVD, so those past the
/// rank get the remaining orthonormal directions (singular value 0: no first-order gain at insertion, but distinct
/// directions that can pick up gradient later); neurons past the consumer's output count (no direction left) get
/// zero outgoing weights.
/// </para>
/// <para>
/// Conv sites (see <see cref="ConvAuxiliaryGradient"/>): the same bilinear form, with G of shape [FanOut, FanIn] —
/// the consumer's outgoing entries of a channel (conv consumer: Cout₂·k₂·k₂; conv → Flatten → Linear: out·H·W) by the
/// producer's fan-in (Cin·k₁·k₁) — taken exactly through the layers between producer and consumer (BatchNorm in eval
/// mode, activation, pooling, a depthwise conv with the new channel's Dirac filter), so it is the matrix that maps a
/// new channel's outgoing weights to its incoming-weight gradient right after insertion.
/// </para>
/// <para>
/// Cost: <see cref="Batches"/> forward + backward passes per grown site (the model in eval mode, so no BatchNorm
/// statistics or dropout streams move), plus one SVD of G; a conv site's backward runs only from the loss to the
/// consumer, plus ⌈positions/64⌉ forward + backward passes of the layers between producer and consumer on zeros.
/// </para>
/// </summary>
public sealed class GradMaxExtender : Extender
{
    /// <summary>Creates the extender (see <see cref="GradMaxConfig"/> for the settings); <paramref name="name"/> names it in reports and its random streams.</summary>
    public GradMaxExtender(double epsilon = 0, double scale = 0.5, bool meanNorm = false, int batches = 4, int batchSize = 128, string name = "gradmax")
    {
        if (!(epsilon >= 0 && double.IsFinite(epsilon))) throw new ArgumentOutOfRangeException(nameof(epsilon), "epsilon must be a finite number ≥ 0");
        if (!(scale > 0 && double.IsFinite(scale))) throw new ArgumentOutOfRangeException(nameof(scale), "scale must be a finite number > 0");
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        (Epsilon, Scale, MeanNorm, Batches, BatchSize, Name) = (epsilon, scale, meanNorm, batches, batchSize, name);
    }

    /// <inheritdoc/>
    public override string Name { get; }

    /// <summary>Norm of a new neuron's incoming weights (0 = zeros).</summary>
    public double Epsilon { get; }

    /// <summary>Norm of a new neuron's outgoing weights (relative to the existing mean when <see cref="MeanNorm"/>).</summary>
    public double Scale { get; }

    /// <summary>Whether <see cref="Scale"/> multiplies the mean outgoing norm of the existing neurons.</summary>
    public bool MeanNorm { get; }

    /// <summary>Batches averaged into the auxiliary gradient.</summary>
    public int Batches { get; }

    /// <summary>Samples per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Forward + backward passes run by the last <see cref="Extender.Extend"/> call (one per batch per grown site).</summary>
    public int Passes { get; private set; }

    /// <inheritdoc/>
    protected override void BeginExtend(GrowthContext ctx) => Passes = 0;

    /// <inheritdoc/>
    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var model = ctx.Model;
        var site = model.Sites[siteIndex];
        int old = site.Width;
        double norm = Scale;
        if (MeanNorm) norm *= MeanOutgoingNorm(site);
        int first;
        double[,] dirs;
        if (model.IsConvSite(siteIndex))
        {
            // the new channels first (zero incoming and outgoing, identity BatchNorm, Dirac depthwise filter), so the
            // gradient is taken through exactly the layers they will see
            model.UseReluOne(siteIndex);
            first = site.Grow(count);
            var g = ConvAuxiliaryGradient(model, siteIndex, first, ctx.Train, Batches, BatchSize, rng.Fork("batches"));
            dirs = Directions(g, site.FanOut, site.FanIn, count);
        }
        else
        {
            var g = AuxiliaryGradient(model, siteIndex, ctx.Train, Batches, BatchSize, rng.Fork("batches"));
            dirs = Directions(g, site.OutWeight.Dim(0), site.FanIn, count);
            model.UseReluOne(siteIndex);
            first = site.Grow(count);
        }
        Passes += BatchPasses.Count(ctx.Train.Count, Batches, BatchSize);

        var w = new float[site.FanIn];
        var o = new float[site.FanOut];
        var inRng = rng.Fork("incoming");
        for (int k = 0; k < count; k++)
        {
            int j = first + k;
            if (Epsilon > 0)
            {
                inRng.FillUniform(w, 0, 1);
                double n2 = 0;
                foreach (float v in w) n2 += (double)v * v;
                double f = n2 > 0 ? Epsilon / Math.Sqrt(n2) : 0;
                for (int t = 0; t < w.Length; t++) w[t] = (float)(w[t] * f);
                site.SetIncoming(j, w);
            }
            site.SetBias(j, 0f);
            for (int t = 0; t < o.Length; t++) o[t] = (float)(norm * dirs[k, t]);
            site.SetOutgoing(j, o);
        }
        return new SiteExtension(site.Name, old, count);
    }

    /// <summary>
    /// The outgoing directions for <paramref name="count"/> new neurons as [count, rows], unit rows: the left singular
    /// vectors of <paramref name="g"/> [rows, cols] (row-major) by descending singular value, the full basis of the
    /// SVD (past the rank: singular value 0), zero rows past <paramref name="rows"/>. A wide or square G takes them from
    /// the eigendecomposition of the rows × rows G·Gᵀ (the same basis, without the SVD's cols × cols V). A tall G (rows &gt; cols, e.g. a
    /// conv feeding a Linear through Flatten: rows = out·H·W) whose top <paramref name="count"/> singular values are
    /// clearly non-zero takes them from the eigenvectors v of the small GᵀG (u = G·v / ‖G·v‖) instead of the full
    /// rows × rows basis.
    /// </summary>
    public static double[,] Directions(double[] g, int rows, int cols, int count)
    {
        ArgumentNullException.ThrowIfNull(g);
        if (g.Length != rows * cols) throw new ArgumentException($"gradient has {g.Length} entries, expected {rows}·{cols}");
        if (rows > cols && count <= cols && TallDirections(g, rows, cols, count) is { } tall) return tall;
        var m = Matrix<double>.Build.Dense(rows, cols, (i, j) => g[i * cols + j]);
        Matrix<double> u;
        if (rows <= cols)
        {
            // the eigenvectors of the small G·Gᵀ are the full left basis (the SVD would also build the cols × cols V)
            var evd = m.TransposeAndMultiply(m).Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric); // ascending
            u = Matrix<double>.Build.Dense(rows, rows, (i, k) => evd.EigenVectors[i, rows - 1 - k]);
        }
        else u = m.Svd(computeVectors: true).U; // rows × rows, columns by descending singular value
        var d = new double[count, rows];
        for (int k = 0; k < Math.Min(count, rows); k++)
            for (int i = 0; i < rows; i++) d[k, i] = u[i, k];
        return d;
    }

    // top left singular vectors of a tall m from the eigenvectors of mᵀm; null when one of them has a singular value
    // too small to be told apart from rounding (then the full SVD decides)
    private static double[,]? TallDirections(double[] g, int rows, int cols, int count)
    {
        var gram = new double[cols * cols]; // GᵀG (upper triangle), accumulated row by row
        for (int r = 0; r < rows; r++)
        {
            var row = g.AsSpan(r * cols, cols);
            for (int i = 0; i < cols; i++)
            {
                double gi = row[i];
                if (gi == 0) continue;
                var dst = gram.AsSpan(i * cols + i, cols - i);
                var src = row[i..];
                for (int j = 0; j < dst.Length; j++) dst[j] += gi * src[j];
            }
        }
        var evd = Matrix<double>.Build.Dense(cols, cols, (i, j) => i <= j ? gram[i * cols + j] : gram[j * cols + i]).Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric); // ascending
        double top = Math.Max(evd.EigenValues[cols - 1].Real, 0);
        var d = new double[count, rows];
        for (int k = 0; k < count; k++)
        {
            double lambda = evd.EigenValues[cols - 1 - k].Real;
            if (!(top > 0) || lambda <= 1e-10 * top) return null;
            var v = evd.EigenVectors.Column(cols - 1 - k).ToArray();
            var u = new double[rows];
            double n2 = 0;
            for (int i = 0; i < rows; i++)
            {
                var row = g.AsSpan(i * cols, cols);
                double x = 0;
                for (int j = 0; j < cols; j++) x += row[j] * v[j];
                u[i] = x;
                n2 += x * x;
            }
            double n = Math.Sqrt(n2);
            for (int i = 0; i < rows; i++) d[k, i] = u[i] / n;
        }
        return d;
    }

    /// <summary>
    /// G = ∂L/∂W_aux for the zero bypass of site <paramref name="siteIndex"/> (see <see cref="GrowableModel.ForwardWithBypass"/>),
    /// row-major [consumer outputs, producer fan-in], averaged over up to <paramref name="batches"/> batches of
    /// <paramref name="batchSize"/> samples drawn without replacement from <paramref name="data"/> with <paramref name="rng"/>.
    /// Each batch is one gradient-only pass of a <see cref="Trainer"/> on a wrapper whose only extra parameter is the
    /// zero bypass: the autograd then yields Σ δᵀ·a directly, without capturing δ by hand. The model runs in eval mode.
    /// </summary>
    public static double[] AuxiliaryGradient(GrowableModel model, int siteIndex, InMemoryDataset data, int batches, int batchSize, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(rng);
        if (data.Count == 0) throw new ArgumentException("gradmax needs training data for its gradient");
        var site = model.Sites[siteIndex];
        int rows = site.OutWeight.Dim(0), cols = site.FanIn;
        var wrapper = new Bypass(model, siteIndex, rows, cols);
        var loss = Loss.For(data);
        var trainer = new Trainer(wrapper, optimizer: null, loss) { Name = "gradmax gradient" };
        var order = rng.Permutation(data.Count);
        int passes = BatchPasses.Count(data.Count, batches, batchSize);
        var g = new double[rows * cols];
        using (BatchPasses.Measuring(model.Module))
        {
            foreach (var batch in BatchPasses.Take(data, order, batches, batchSize))
            {
                trainer.Backward(batch);
                var gs = wrapper.Weight.Grad!.Span;
                for (int i = 0; i < g.Length; i++) g[i] += gs[i];
            }
        }
        for (int i = 0; i < g.Length; i++) g[i] /= passes;
        return g;
    }

    /// <summary>
    /// G for conv site <paramref name="siteIndex"/> as row-major [FanOut, FanIn]: row r is the gradient of the mean loss
    /// w.r.t. the incoming weights (Cin·k₁·k₁, no bias) of the zero-incoming channel <paramref name="channel"/> when its
    /// outgoing weights are the unit vector e_r (consumer order, see <see cref="GrowthSite.GetOutgoing"/>) — so for
    /// outgoing w the incoming gradient is Gᵀw. Channel <paramref name="channel"/> must have zero incoming weights and
    /// bias; its outgoing weights are not read. Averaged over up to <paramref name="batches"/> batches of
    /// <paramref name="batchSize"/> samples drawn without replacement with <paramref name="rng"/>; the model runs in eval
    /// mode (BatchNorm from its running statistics).
    /// <para>
    /// How: with δ the consumer's pre-activation gradient, a the producer's input patches and J the linear map (the
    /// same for every sample, since the channel is zero everywhere) from the channel's producer output to its consumer
    /// input through the layers in between, G[(o,t), f] = Σ_n Σ_pos δ[n, o, pos] · (J·patches_n)[input position of tap t
    /// at pos, f]. J is found by autograd: those layers run on zeros and one backward pass per consumer-input position
    /// (64 at a time) reads row m of J off the input gradient. This is GradMax's auxiliary conv (kernel k₁+k₂−1) made
    /// exact for whatever per-channel layers sit in between.
    /// </para>
    /// </summary>
    public static double[] ConvAuxiliaryGradient(GrowableModel model, int siteIndex, int channel, InMemoryDataset data, int batches, int batchSize, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(rng);
        if (data.Count == 0) throw new ArgumentException("gradmax needs training data for its gradient");
        var site = model.Sites[siteIndex];
        var window = model.ProducerWindow(siteIndex) ?? throw new ArgumentException($"gradmax: site {site.Name} is not a conv site");
        if ((uint)channel >= (uint)site.Width) throw new ArgumentOutOfRangeException(nameof(channel));
        var layers = model.Module.Layers;
        int pi = model.ProducerLayer(siteIndex), ci = model.ConsumerLayer(siteIndex);
        var consumer = (GrowableRole)layers[ci].GrowthRole;
        int outs = consumer.Weight.Dim(0), fanIn = site.FanIn, fanOut = site.FanOut, taps = fanOut / outs;
        var loss = Loss.For(data);
        var order = rng.Permutation(data.Count);
        int passes = BatchPasses.Count(data.Count, batches, batchSize);
        var g = new double[fanOut * fanIn];
        using (BatchPasses.Measuring(model.Module))
        {
            SparseRow[]? j = null;
            int inH = 0, inW = 0; // the consumer input's map size
            foreach (var batch in BatchPasses.Take(data, order, batches, batchSize))
            {
                int n = batch.Rows;
                using var scope = TensorScope.Begin();
                Tensor x = batch.X, a = x, z = x;
                int[] produced = [];
                using (Sprout.Autograd.Graph.NoGrad())
                {
                    for (int i = 0; i <= ci; i++)
                    {
                        if (i == pi) a = x;
                        x = layers[i].Forward(x);
                        if (i == pi) produced = x.ShapeArray();
                        if (i == ci) z = x;
                    }
                }
                // δ = ∂L/∂z: the head runs from a leaf copy of the consumer's output
                var leaf = Tensor.Empty(z.ShapeArray());
                z.Span.CopyTo(leaf.Span);
                leaf.RequiresGrad = true;
                x = leaf;
                for (int i = ci + 1; i < layers.Count; i++) x = layers[i].Forward(x);
                loss.Compute(x, batch).Backward();
                var delta = leaf.Grad!.Span;

                int p1 = produced[2] * produced[3];
                j ??= ChannelMap(model, siteIndex, channel, produced, out inH, out inW);
                var patches = GrowableModel.Patches(a, window).Span; // [n·p1, fanIn]
                // q[n, m, :] = Σ_r J[m, r]·patches[n, r, :]
                int p2 = j.Length;
                var q = new float[(long)n * p2 * fanIn];
                for (int s = 0; s < n; s++)
                    for (int m = 0; m < p2; m++)
                    {
                        var row = q.AsSpan((s * p2 + m) * fanIn, fanIn);
                        var jr = j[m];
                        for (int e = 0; e < jr.Index.Length; e++)
                        {
                            float w = jr.Weight[e];
                            var src = patches.Slice((s * p1 + jr.Index[e]) * fanIn, fanIn);
                            for (int f = 0; f < fanIn; f++) row[f] += w * src[f];
                        }
                    }
                Accumulate(g, delta, q, n, outs, taps, fanIn, inH, inW, consumer.Window, z);
            }
        }
        for (int i = 0; i < g.Length; i++) g[i] /= passes;
        return g;
    }

    // G[(o, t), :] += Σ_n Σ_pos δ[n, o, pos]·q[n, m(pos, t), :] — one GEMM per tap t over the rows (n, pos)
    private static void Accumulate(double[] g, ReadOnlySpan<float> delta, float[] q, int n, int outs, int taps, int fanIn,
        int h2in, int w2in, ConvWindow? cw, Tensor z)
    {
        int p2in = h2in * w2in;
        int h2 = cw is null ? 1 : z.Dim(2), w2 = cw is null ? 1 : z.Dim(3), positions = h2 * w2;
        int rows = n * positions;
        // Δ as [rows, outs]
        var d = new float[rows * outs];
        for (int s = 0; s < n; s++)
            for (int o = 0; o < outs; o++)
                for (int pos = 0; pos < positions; pos++)
                    d[(s * positions + pos) * outs + o] = delta[(s * outs + o) * positions + pos];
        var r = new float[rows * fanIn];
        var gt = new float[outs * fanIn];
        for (int t = 0; t < taps; t++)
        {
            Array.Clear(r);
            for (int s = 0; s < n; s++)
                for (int pos = 0; pos < positions; pos++)
                {
                    int m;
                    if (cw is null) m = t;
                    else
                    {
                        int u = t / cw.Kernel, v = t % cw.Kernel;
                        int y = pos / w2 * cw.Stride + u - cw.Padding, xx = pos % w2 * cw.Stride + v - cw.Padding;
                        if (y < 0 || y >= h2in || xx < 0 || xx >= w2in) continue;
                        m = y * w2in + xx;
                    }
                    q.AsSpan((s * p2in + m) * fanIn, fanIn).CopyTo(r.AsSpan((s * positions + pos) * fanIn, fanIn));
                }
            Kernels.Gemm.Multiply(outs, fanIn, rows, d, outs, true, r, fanIn, false, gt, fanIn, false);
            for (int o = 0; o < outs; o++)
                for (int f = 0; f < fanIn; f++) g[(o * taps + t) * fanIn + f] += gt[o * fanIn + f];
        }
    }

    private sealed record SparseRow(int[] Index, float[] Weight);

    // J: row m (a position of the channel's consumer input) lists the producer-output positions (and weights) it reads,
    // found by back-propagating unit vectors through the layers between producer and consumer, run on zeros
    private static SparseRow[] ChannelMap(GrowableModel model, int siteIndex, int channel, int[] produced, out int inH, out int inW)
    {
        var layers = model.Module.Layers;
        int pi = model.ProducerLayer(siteIndex), ci = model.ConsumerLayer(siteIndex);
        int c = produced[1], p1 = produced[2] * produced[3];
        // the consumer input's per-channel size from one zero sample
        using (TensorScope.Begin())
        using (Sprout.Autograd.Graph.NoGrad())
        {
            Tensor y = Tensor.Zeros(1, c, produced[2], produced[3]);
            for (int i = pi + 1; i < ci; i++) y = layers[i].Forward(y);
            (inH, inW) = y.Rank == 4 ? (y.Dim(2), y.Dim(3)) : (1, y.Length / c);
        }
        int p2in = inH * inW;
        var rows = new SparseRow[p2in];
        const int Chunk = 64;
        var idx = new List<int>();
        var wts = new List<float>();
        for (int m0 = 0; m0 < p2in; m0 += Chunk)
        {
            int bc = Math.Min(Chunk, p2in - m0);
            using var scope = TensorScope.Begin();
            var input = Tensor.Zeros(bc, c, produced[2], produced[3]);
            input.RequiresGrad = true;
            Tensor y = input;
            for (int i = pi + 1; i < ci; i++) y = layers[i].Forward(y);
            var seed = Tensor.Zeros(y.ShapeArray());
            int per = y.Length / bc;
            for (int b = 0; b < bc; b++) seed.Span[b * per + channel * p2in + m0 + b] = 1f;
            if (y.RequiresGrad) y.Backward(seed);
            var gi = input.Grad is { } grad ? grad.Span : default;
            for (int b = 0; b < bc; b++)
            {
                idx.Clear();
                wts.Clear();
                if (!gi.IsEmpty)
                {
                    var row = gi.Slice((b * c + channel) * p1, p1);
                    for (int r = 0; r < p1; r++)
                        if (row[r] != 0) { idx.Add(r); wts.Add(row[r]); }
                }
                rows[m0 + b] = new SparseRow(idx.ToArray(), wts.ToArray());
            }
        }
        model.Module.ZeroGrad();
        return rows;
    }

    private static double MeanOutgoingNorm(GrowthSite site)
    {
        if (site.Width == 0) return 1;
        var o = new float[site.FanOut];
        double sum = 0;
        for (int i = 0; i < site.Width; i++)
        {
            site.GetOutgoing(i, o);
            double n2 = 0;
            foreach (float v in o) n2 += (double)v * v;
            sum += Math.Sqrt(n2);
        }
        return sum / site.Width;
    }

    // the model with a zero auxiliary Linear from the producer's input to the consumer's pre-activation
    private sealed class Bypass : Module
    {
        private readonly GrowableModel _model;
        private readonly int _site;

        public Bypass(GrowableModel model, int site, int rows, int cols)
        {
            _model = model;
            _site = site;
            RegisterModule("model", model.Module);
            Weight = RegisterParameter("bypass", Tensor.Zeros(rows, cols).Persist());
        }

        public Tensor Weight { get; }

        public override Tensor Forward(Tensor x) => _model.ForwardWithBypass(x, _site, Weight);
    }
}
