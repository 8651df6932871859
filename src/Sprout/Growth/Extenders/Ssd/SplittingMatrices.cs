using System.Numerics.Tensors;
using Sprout.Autograd;
using Sprout.Kernels;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Growth;

/// <summary>Per-neuron splitting results of one site.</summary>
/// <param name="Values">Per neuron: the smallest eigenvalue λ_min of its splitting matrix (fast variant: the Rayleigh quotient of the direction found).</param>
/// <param name="Directions">The unit splitting directions, [width, FanIn] row-major (neuron i's is row i).</param>
public sealed record SplittingDirections(double[] Values, float[] Directions);

/// <summary>
/// The batches splitting matrices are averaged over: consecutive slices of <paramref name="Order"/> of
/// <paramref name="BatchSize"/> samples (the last may be shorter), at most <paramref name="Batches"/> of them.
/// </summary>
/// <param name="Data">The training data.</param>
/// <param name="Order">Sample order (a permutation of the data, or any index list).</param>
/// <param name="BatchSize">Samples per batch.</param>
/// <param name="Batches">Largest number of batches used.</param>
public sealed record SplittingData(InMemoryDataset Data, int[] Order, int BatchSize, int Batches)
{
    /// <summary>Batches actually used: min(<see cref="Batches"/>, ⌈samples / batch size⌉).</summary>
    public int Count => BatchPasses.Count(Order.Length, Batches, BatchSize);

    /// <summary>Samples actually used.</summary>
    public int Samples => (int)Math.Min(Order.Length, (long)Count * BatchSize);

    /// <summary>
    /// A random draw: a permutation of <paramref name="data"/> from <paramref name="rng"/>; <paramref name="batches"/> = 0 is
    /// the reference rule (a tenth of an epoch, ⌊⌈samples / batch size⌉ / 10⌋, at least 1).
    /// </summary>
    public static SplittingData Draw(InMemoryDataset data, int batches, int batchSize, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(rng);
        if (data.Count == 0) throw new ArgumentException("ssd needs training data for its splitting matrices");
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(batches);
        if (batches == 0) batches = Math.Max(1, (int)(((long)data.Count + batchSize - 1) / batchSize / 10));
        return new SplittingData(data, rng.Permutation(data.Count), batchSize, batches);
    }
}

/// <summary>
/// Splitting matrices of splitting steepest descent (Liu et al. 2019). For neuron i of a site with input rows x (the
/// producer's fan-in: a Linear's inputs, a conv's C_in·k·k patches at every output position, see
/// <see cref="GrowableModel.SiteInput"/>), S_i = Σ_{rows} ∂L/∂a_i · σ''(z_i) · c_i² · x xᵀ, where a_i = σ(z_i) is the
/// neuron's activation output, z_i its activation input, and c_i = γ_i/√(var_i + eps) when an (eval-mode) BatchNorm sits
/// between the producer and the activation (1 otherwise). L is the mean loss of a batch; S is averaged over batches with
/// weights proportional to their sizes, so it is the splitting matrix of the mean loss over the samples used (the
/// reference code's matrices are 10× this: it divides the sum over n batches by n/10). The model runs in eval mode.
/// <para>
/// Meaning: splitting neuron i into two copies with incoming weights θ ± t·v and half the outgoing weights each changes
/// the loss by t²·vᵀS_i v/2 + O(t⁴), i.e. d²L/dt² at t = 0 is vᵀS_i v. A negative eigenvalue of S_i is a direction in
/// which splitting lowers the loss.
/// </para>
/// <para>
/// σ'': the exact second derivative for smooth activations (sigmoid, tanh, swish, ELU); for ReLU-like ones, whose σ''
/// is zero almost everywhere, the reference's smoothing 3·s(1−s) with s = sigmoid(3z) (the second derivative of
/// softplus(3z)/3), times (1 − slope) for leaky ReLU / PReLU. WIB-ReLU is treated as a ReLU.
/// </para>
/// <para>
/// Through a depthwise conv (MobileNet: producer → BN₁ → σ₁ → depthwise W (stride s) → BN₂ → σ₂ → pointwise consumer; the
/// filter and BN₂ are the site's tied tensors, copied by a split) a channel's output is g_q = σ₂(u_q) over the depthwise
/// output positions q, u_q = a₂·Σ_p W_qp·σ₁(z_p) + b₂, z_p = a₁·θᵀx_p + b₁. Differentiating twice, S_i = Σ_q ∂L/∂g_q ∇²g_q
/// has two terms: Σ_p β_p·σ₁''(z_p)·a₁²·x_p x_pᵀ with β = ∂L/∂(σ₁'s output) (the formula above with the gradient taken
/// at σ₁, i.e. back-propagated through σ₂, BN₂ and W), plus Σ_q ∂L/∂g_q·σ₂''(u_q)·a₂²·a₁²·r_q r_qᵀ with
/// r_q = Σ_p W_qp·σ₁'(z_p)·x_p, the filter applied to the σ₁'-weighted input rows (σ₁' as the backward pass computes it;
/// σ₂'' as σ'' above, smoothed for ReLU). Only dropout may sit between σ₁ and the depthwise conv, and BatchNorm or dropout
/// between it and σ₂; without σ₂ (or with an identity) the second term is zero.
/// </para>
/// <para>
/// ∂L/∂a_i comes from one gradient-only pass of the <see cref="Trainer"/> on a wrapper that adds a zero probe tensor to
/// the activation's output; one pass serves every site it probes.
/// </para>
/// </summary>
public static class SplittingMatrices
{
    /// <summary>
    /// Largest memory the exact variant holds in splitting matrices at once (float accumulators): wider sites are done in
    /// chunks of neurons, each chunk one more pass over the batches. A single matrix larger than this (fan-in above 8192)
    /// is rejected.
    /// </summary>
    public const long MaxMatrixBytes = 256L << 20;

    /// <summary>RMSprop α and momentum of the fast variant (the reference's).</summary>
    public const double RmsPropAlpha = 0.9, RmsPropMomentum = 0.1;

    /// <summary>
    /// σ''(z) as used in the splitting matrix for an activation (see the class remarks): exact for smooth activations,
    /// the reference's 3·s(1−s), s = sigmoid(3z), for ReLU-like ones (times 1 − <paramref name="slope"/> for leaky ReLU and PReLU).
    /// </summary>
    public static double SecondDerivative(ActivationKind kind, double z, double slope = 0.01, double alpha = 1)
    {
        switch (kind)
        {
            case ActivationKind.Relu:
            case ActivationKind.ReluOne:
            case ActivationKind.WibRelu:
                {
                    double s = Sigmoid(3 * z);
                    return 3 * s * (1 - s);
                }
            case ActivationKind.LeakyRelu:
            case ActivationKind.PRelu:
                {
                    double s = Sigmoid(3 * z);
                    return 3 * s * (1 - s) * (1 - slope);
                }
            case ActivationKind.Elu:
                return z > 0 ? 0 : alpha * Math.Exp(z);
            case ActivationKind.Sigmoid:
                {
                    double s = Sigmoid(z);
                    return s * (1 - s) * (1 - 2 * s);
                }
            case ActivationKind.Tanh:
                {
                    double h = Math.Tanh(z);
                    return -2 * h * (1 - h * h);
                }
            case ActivationKind.Swish:
                {
                    double s = Sigmoid(z);
                    return s * (1 - s) * (2 + z * (1 - 2 * s));
                }
            default:
                return 0;
        }
    }

    /// <summary>
    /// <see cref="SecondDerivative"/> over a span in float, vectorised (System.Numerics.Tensors); the scalar method is the
    /// definition this follows.
    /// </summary>
    public static void SecondDerivatives(ActivationKind kind, double slope, double alpha, ReadOnlySpan<float> z, Span<float> dst)
    {
        if (dst.Length < z.Length) throw new ArgumentException($"{dst.Length} outputs for {z.Length} inputs");
        dst = dst[..z.Length];
        switch (kind)
        {
            case ActivationKind.Relu:
            case ActivationKind.ReluOne:
            case ActivationKind.WibRelu:
            case ActivationKind.LeakyRelu:
            case ActivationKind.PRelu:
                {
                    // 3·s(1−s)·k with s = sigmoid(3z): dst = s, then dst = k·3·(s − s²)
                    float k = kind is ActivationKind.LeakyRelu or ActivationKind.PRelu ? (float)(3 * (1 - slope)) : 3f;
                    TensorPrimitives.Multiply(z, 3f, dst);
                    TensorPrimitives.Sigmoid(dst, dst);
                    for (int i = 0; i < dst.Length; i++) dst[i] = k * dst[i] * (1 - dst[i]);
                    break;
                }
            case ActivationKind.Sigmoid:
                TensorPrimitives.Sigmoid(z, dst);
                for (int i = 0; i < dst.Length; i++) dst[i] = dst[i] * (1 - dst[i]) * (1 - 2 * dst[i]);
                break;
            case ActivationKind.Tanh:
                TensorPrimitives.Tanh(z, dst);
                for (int i = 0; i < dst.Length; i++) dst[i] = -2 * dst[i] * (1 - dst[i] * dst[i]);
                break;
            case ActivationKind.Swish:
                TensorPrimitives.Sigmoid(z, dst);
                for (int i = 0; i < dst.Length; i++)
                {
                    float s = dst[i];
                    dst[i] = s * (1 - s) * (2 + z[i] * (1 - 2 * s));
                }
                break;
            default:
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)SecondDerivative(kind, z[i], slope, alpha);
                break;
        }
    }

    /// <summary>
    /// σ'(z) as the network's backward pass computes it (used where a site's splitting matrix goes through a depthwise
    /// conv to a second activation): 1 or 0 for ReLU (1 at 0 for ReLU-one), 1 or the slope for leaky ReLU and PReLU, the
    /// exact derivative for the smooth ones. WIB-ReLU counts as a ReLU (its mean term, O(1/batch), is left out).
    /// </summary>
    public static double FirstDerivative(ActivationKind kind, double z, double slope = 0.01, double alpha = 1)
    {
        switch (kind)
        {
            case ActivationKind.Relu:
            case ActivationKind.WibRelu:
                return z > 0 ? 1 : 0;
            case ActivationKind.ReluOne:
                return z >= 0 ? 1 : 0;
            case ActivationKind.LeakyRelu:
            case ActivationKind.PRelu:
                return z > 0 ? 1 : slope;
            case ActivationKind.Elu:
                return z > 0 ? 1 : alpha * Math.Exp(z);
            case ActivationKind.Sigmoid:
                {
                    double s = Sigmoid(z);
                    return s * (1 - s);
                }
            case ActivationKind.Tanh:
                {
                    double h = Math.Tanh(z);
                    return 1 - h * h;
                }
            case ActivationKind.Swish:
                {
                    double s = Sigmoid(z);
                    return s * (1 + z * (1 - s));
                }
            default:
                return 1;
        }
    }

    /// <summary><see cref="FirstDerivative"/> over a span in float (the scalar method is the definition).</summary>
    public static void FirstDerivatives(ActivationKind kind, double slope, double alpha, ReadOnlySpan<float> z, Span<float> dst)
    {
        if (dst.Length < z.Length) throw new ArgumentException($"{dst.Length} outputs for {z.Length} inputs");
        dst = dst[..z.Length];
        switch (kind)
        {
            case ActivationKind.Tanh:
                TensorPrimitives.Tanh(z, dst);
                for (int i = 0; i < dst.Length; i++) dst[i] = 1 - dst[i] * dst[i];
                break;
            case ActivationKind.Sigmoid:
                TensorPrimitives.Sigmoid(z, dst);
                for (int i = 0; i < dst.Length; i++) dst[i] = dst[i] * (1 - dst[i]);
                break;
            case ActivationKind.Swish:
                TensorPrimitives.Sigmoid(z, dst);
                for (int i = 0; i < dst.Length; i++) dst[i] = dst[i] * (1 + z[i] * (1 - dst[i]));
                break;
            default:
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)FirstDerivative(kind, z[i], slope, alpha);
                break;
        }
    }

    private static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    /// <summary>
    /// The splitting matrices of neurons [<paramref name="first"/>, first + <paramref name="count"/>) of site
    /// <paramref name="siteIndex"/>, each a symmetrised row-major [FanIn, FanIn] array, averaged over the batches of
    /// <paramref name="data"/> (one forward + backward pass per batch).
    /// </summary>
    public static double[][] Compute(GrowableModel model, int siteIndex, SplittingData data, int first = 0, int count = -1, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        var site = model.Sites[siteIndex];
        if (count < 0) count = site.Width - first;
        if (first < 0 || first + count > site.Width) throw new ArgumentOutOfRangeException(nameof(first), $"neurons {first}…{first + count - 1} outside site {site.Name}'s {site.Width}");
        int d = site.FanIn;
        CheckMatrixSize(site);
        var s = new float[count][];
        for (int i = 0; i < count; i++) s[i] = new float[d * d];
        using (var g = new Gatherer(model, [siteIndex]))
        {
            float[] scaled = [], r = [];
            g.ForEachBatch(data, stop, () =>
            {
                var x = g.X[0];
                var gw = g.G[0];
                int rows = g.Rows[0], w = site.Width;
                var dw = g.Dw[0];
                int rowsQ = dw?.RowsOut ?? 0;
                if (scaled.Length < Math.Max(rows, rowsQ) * d) scaled = new float[Math.Max(rows, rowsQ) * d];
                if (r.Length < rowsQ * d) r = new float[rowsQ * d];
                for (int i = 0; i < count; i++)
                {
                    int neuron = first + i;
                    ScaleRows(gw.AsSpan(neuron * rows, rows), x, d, scaled);
                    // S_i += (diag(g_i)·X)ᵀ·X
                    Gemm.Multiply(d, d, rows, scaled, d, true, x, d, false, s[i], d, true);
                    if (dw is null) continue;
                    // through a depthwise conv: S_i += R_iᵀ·diag(c_i)·R_i, R_i = the depthwise filter over the σ₁'-weighted rows
                    dw.Rows(neuron, x, d, r);
                    ScaleRows(dw.C.AsSpan(neuron * rowsQ, rowsQ), r, d, scaled);
                    Gemm.Multiply(d, d, rowsQ, scaled, d, true, r, d, false, s[i], d, true);
                }
            });
        }
        var result = new double[count][];
        for (int i = 0; i < count; i++)
        {
            var m = new double[d * d];
            var si = s[i];
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++) m[a * d + b] = 0.5 * ((double)si[a * d + b] + si[b * d + a]);
            result[i] = m;
            s[i] = null!;
        }
        return result;
    }

    // dst row r = c[r]·x row r (rows of d)
    private static void ScaleRows(ReadOnlySpan<float> c, ReadOnlySpan<float> x, int d, Span<float> dst)
    {
        for (int row = 0; row < c.Length; row++) TensorPrimitives.Multiply(x.Slice(row * d, d), c[row], dst.Slice(row * d, d));
    }

    /// <summary>
    /// The exact variant for one site: every neuron's splitting matrix (<see cref="Compute"/>, in chunks of neurons that
    /// fit <see cref="MaxMatrixBytes"/>) and its smallest eigenpair. Returns the directions and the passes run.
    /// </summary>
    public static (SplittingDirections Result, int Passes) Exact(GrowableModel model, int siteIndex, SplittingData data,
        SsdEigenSolver solver, Rng rng, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(rng);
        var site = model.Sites[siteIndex];
        CheckMatrixSize(site);
        int d = site.FanIn, w = site.Width;
        int chunk = (int)Math.Clamp(MaxMatrixBytes / ((long)d * d * sizeof(float)), 1, Math.Max(1, w));
        bool full = solver == SsdEigenSolver.Full || (solver == SsdEigenSolver.Auto && d <= SsdConfig.FullEvdMaxFanIn);
        var values = new double[w];
        var dirs = new float[w * d];
        int passes = 0;
        for (int first = 0; first < w; first += chunk)
        {
            int n = Math.Min(chunk, w - first);
            var s = Compute(model, siteIndex, data, first, n, stop);
            passes += data.Count;
            for (int i = 0; i < n; i++)
            {
                var (value, v) = full ? SymmetricEigen.FullMin(s[i], d) : SymmetricEigen.LanczosMin(s[i], d, rng.Fork("lanczos", first + i));
                values[first + i] = value;
                for (int t = 0; t < d; t++) dirs[(first + i) * d + t] = (float)v[t];
                s[i] = null!;
            }
        }
        return (new SplittingDirections(values, dirs), passes);
    }

    /// <summary>
    /// The fast variant (Wang et al. 2019) for several sites at once: per neuron a direction v (start U(−0.1, 0.1),
    /// renormalised to unit length before every step) moved by RMSprop (lr <paramref name="learningRate"/>, α 0.9,
    /// momentum 0.1, Sprout's <see cref="RmsProp"/>) down the gradient of its Rayleigh quotient, 2(S_b·v − (vᵀS_b v)·v),
    /// with S_b the batch's splitting matrix applied as S_b·v = Σ_rows g·σ''·c²·x(xᵀv) (two matrix products per site and
    /// batch; S is never formed; through a depthwise conv the second term adds, per neuron, the filter applied to
    /// σ₁'⊙(X·v), weighted by the second term's c and mapped back by the filter's transpose, σ₁'⊙Wᵀ(c⊙W(σ₁'⊙X·v)), before
    /// the product with X). <paramref name="epochs"/> passes over freshly drawn batches, then one more draw to
    /// score: value = the batch-weighted mean of vᵀS_b v. One forward + backward pass per batch serves every site.
    /// </summary>
    public static (SplittingDirections[] Results, int Passes) Fast(GrowableModel model, IReadOnlyList<int> sites, InMemoryDataset data,
        int batches, int batchSize, int epochs, double learningRate, Rng rng, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sites);
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        int n = sites.Count;
        var v = new Tensor[n];
        var grads = new Tensor[n];
        var init = rng.Fork("directions");
        for (int j = 0; j < n; j++)
        {
            var site = model.Sites[sites[j]];
            v[j] = Tensor.Zeros(site.Width, site.FanIn).Persist();
            v[j].RequiresGrad = true;
            init.FillUniform(v[j].Span, -0.1, 0.1);
            grads[j] = Tensor.Zeros(site.Width, site.FanIn).Persist();
        }
        var opt = new RmsProp(v, learningRate, alpha: RmsPropAlpha, momentum: RmsPropMomentum);
        var sv = new float[n][];
        var u = new float[n][];
        float[] dwP = [], dwQ = [];
        int passes = 0;
        using var g = new Gatherer(model, sites);
        void Products()
        {
            for (int j = 0; j < n; j++)
            {
                var site = model.Sites[sites[j]];
                int w = site.Width, d = site.FanIn, rows = g.Rows[j];
                Normalise(v[j].Span, w, d);
                if (u[j] is null || u[j].Length < rows * w) u[j] = new float[rows * w];
                sv[j] ??= new float[w * d];
                // Uᵀ = V·Xᵀ [w, rows]; H = G ⊙ Uᵀ; S·v for every neuron = H·X [w, d]
                Gemm.Multiply(w, rows, d, v[j].Span, d, false, g.X[j], d, true, u[j], rows, false);
                var gw = g.G[j];
                var uu = u[j].AsSpan(0, rows * w);
                if (g.Dw[j] is { } dw)
                {
                    // through a depthwise conv: H_i = g_i ⊙ U_i + σ₁'_i ⊙ Wᵢᵀ(c_i ⊙ Wᵢ(σ₁'_i ⊙ U_i)), U_i = X·v_i
                    if (dwP.Length < 2 * rows) dwP = new float[2 * rows];
                    if (dwQ.Length < dw.RowsOut) dwQ = new float[dw.RowsOut];
                    var m = dwP.AsSpan(0, rows);
                    var back = dwP.AsSpan(rows, rows);
                    var q = dwQ.AsSpan(0, dw.RowsOut);
                    for (int i = 0; i < w; i++)
                    {
                        var ui = uu.Slice(i * rows, rows);
                        var ti = dw.T.AsSpan(i * rows, rows);
                        TensorPrimitives.Multiply(ui, ti, m);
                        dw.Forward(i, m, q);
                        TensorPrimitives.Multiply(q, dw.C.AsSpan(i * dw.RowsOut, dw.RowsOut), q);
                        dw.Transpose(i, q, back);
                        TensorPrimitives.Multiply(back, ti, back);
                        TensorPrimitives.Multiply(ui, gw.AsSpan(i * rows, rows), ui);
                        TensorPrimitives.Add(ui, back, ui);
                    }
                }
                else TensorPrimitives.Multiply(uu, gw.AsSpan(0, rows * w), uu);
                Gemm.Multiply(w, d, rows, u[j], rows, false, g.X[j], d, false, sv[j], d, false);
            }
        }
        for (int e = 0; e < epochs; e++)
        {
            var draw = SplittingData.Draw(data, batches, batchSize, rng.Fork("epoch", e));
            passes += draw.Count;
            g.ForEachBatch(draw, stop, () =>
            {
                Products();
                for (int j = 0; j < n; j++)
                {
                    var site = model.Sites[sites[j]];
                    int w = site.Width, d = site.FanIn;
                    var vs = v[j].Span;
                    var gs = grads[j].Span;
                    var s = sv[j];
                    // the batch weights scale S; the step uses the batch's own matrix, so undo the weight
                    double scale = 1 / g.Weight;
                    for (int i = 0; i < w; i++)
                    {
                        double q = 0;
                        for (int t = 0; t < d; t++) q += (double)vs[i * d + t] * s[i * d + t];
                        for (int t = 0; t < d; t++) gs[i * d + t] = (float)(2 * scale * (s[i * d + t] - q * vs[i * d + t]));
                    }
                    v[j].Grad = grads[j];
                }
                opt.Step();
            });
        }
        var values = new double[n][];
        for (int j = 0; j < n; j++) values[j] = new double[model.Sites[sites[j]].Width];
        var score = SplittingData.Draw(data, batches, batchSize, rng.Fork("score"));
        passes += score.Count;
        g.ForEachBatch(score, stop, () =>
        {
            Products();
            for (int j = 0; j < n; j++)
            {
                var site = model.Sites[sites[j]];
                int w = site.Width, d = site.FanIn;
                var vs = v[j].Span;
                var s = sv[j];
                for (int i = 0; i < w; i++)
                {
                    double q = 0;
                    for (int t = 0; t < d; t++) q += (double)vs[i * d + t] * s[i * d + t];
                    values[j][i] += q;   // S_b already carries the batch's weight
                }
            }
        });
        var results = new SplittingDirections[n];
        for (int j = 0; j < n; j++)
        {
            var site = model.Sites[sites[j]];
            Normalise(v[j].Span, site.Width, site.FanIn);
            results[j] = new SplittingDirections(values[j], v[j].ToArray());
        }
        return (results, passes);
    }

    private static void Normalise(Span<float> v, int rows, int d)
    {
        for (int i = 0; i < rows; i++)
        {
            var r = v.Slice(i * d, d);
            double n2 = 0;
            foreach (float x in r) n2 += (double)x * x;
            if (n2 > 0)
            {
                float f = (float)(1 / Math.Sqrt(n2));
                for (int t = 0; t < d; t++) r[t] *= f;
            }
            else if (d > 0) r[0] = 1;
        }
    }

    private static void CheckMatrixSize(GrowthSite site)
    {
        long bytes = (long)site.FanIn * site.FanIn * sizeof(float);
        if (bytes > MaxMatrixBytes)
            throw new ArgumentException($"ssd: site {site.Name} has fan-in {site.FanIn}; one {site.FanIn}×{site.FanIn} splitting matrix needs {bytes >> 20} MiB " +
                                        $"(limit {MaxMatrixBytes >> 20} MiB): use the fast variant (\"variant\": \"Fast\")");
    }

    /// <summary>What sits between a site's producer and its consumer, as the splitting matrix needs it.</summary>
    /// <param name="Activation">Layer index of the activation σ₁ after the producer.</param>
    /// <param name="Kind">σ₁'s kind.</param>
    /// <param name="Slope">σ₁'s negative slope (leaky ReLU, PReLU).</param>
    /// <param name="Alpha">σ₁'s α (ELU).</param>
    /// <param name="C2">Per neuron a₁² (the factor γ/√(var + eps) of a BatchNorm before σ₁, squared; 1 without).</param>
    /// <param name="Depthwise">A depthwise conv and a second nonlinear activation after σ₁ (MobileNet blocks), or null.</param>
    private sealed record SiteShape(int Activation, ActivationKind Kind, double Slope, double Alpha, double[] C2, DepthwiseShape? Depthwise);

    // the depthwise conv after σ₁ and the activation σ₂ after it; A2: per neuron a₂² of the BatchNorm between them (1 without)
    private sealed record DepthwiseShape(DepthwiseRole Conv, int Activation, ActivationKind Kind, double Slope, double Alpha, double[] A2);

    private static double[] SquaredFactors(BatchNorm? bn, int width)
    {
        var c2 = new double[width];
        for (int i = 0; i < width; i++)
        {
            double c = bn is null ? 1 : (bn.Gamma is null ? 1.0 : bn.Gamma.Span[i]) / Math.Sqrt(bn.RunningVar.Span[i] + (double)bn.Config.Eps);
            c2[i] = c * c;
        }
        return c2;
    }

    private static double SlopeOf(Activation a) => a.Config.Kind == ActivationKind.PRelu ? a.Slopes!.Span[0] : a.Config.Slope;

    private static SiteShape Analyze(GrowableModel model, int siteIndex)
    {
        var site = model.Sites[siteIndex];
        var layers = model.Module.Layers;
        int producer = model.ProducerLayer(siteIndex), consumer = model.ConsumerLayer(siteIndex);
        int act = -1, conv = -1, act2 = -1, between = -1;
        BatchNorm? bn = null, bn2 = null;
        for (int i = producer + 1; i < consumer; i++)
        {
            var layer = layers[i];
            if (act < 0)
            {
                switch (layer)
                {
                    case Activation:
                        act = i;
                        break;
                    case BatchNorm b:
                        bn = b;
                        break;
                    case Dropout or Flatten:
                        break;
                    default:
                        throw new ArgumentException($"ssd: site {site.Name}: layer {i} ({layer}) sits between the producer and its activation; " +
                                                    "splitting matrices need the activation to act on each output of the producer (BatchNorm, dropout or flatten may sit there)");
                }
                continue;
            }
            if (conv < 0 && layer.GrowthRole is DepthwiseRole)
            {
                if (between >= 0)
                    throw new ArgumentException($"ssd: site {site.Name}: layer {between} ({layers[between]}) sits between the activation (layer {act}) and the depthwise conv (layer {i}); " +
                                                "splitting matrices through a depthwise conv allow only dropout there");
                conv = i;
                continue;
            }
            if (conv < 0)
            {
                if (layer is Activation)
                    throw new ArgumentException($"ssd: site {site.Name} has two activations (layers {act} and {i}) before its consumer; splitting matrices need one");
                if (layer is not Dropout && between < 0) between = i;
                continue;
            }
            if (act2 < 0)
            {
                switch (layer)
                {
                    case Activation:
                        act2 = i;
                        break;
                    case BatchNorm b when bn2 is null:
                        bn2 = b;
                        break;
                    case Dropout:
                        break;
                    default:
                        throw new ArgumentException($"ssd: site {site.Name}: layer {i} ({layer}) sits between the depthwise conv (layer {conv}) and its activation; " +
                                                    "splitting matrices through a depthwise conv allow BatchNorm or dropout there");
                }
                continue;
            }
            if (layer is Activation)
                throw new ArgumentException($"ssd: site {site.Name} has three activations (layers {act}, {act2} and {i}) before its consumer; " +
                                            "splitting matrices allow one, or two around a depthwise conv");
        }
        DepthwiseShape? dw = null;
        if (conv >= 0 && act2 >= 0 && layers[act2] is Activation { Config.Kind: not ActivationKind.Identity } a2)
            dw = new DepthwiseShape((DepthwiseRole)layers[conv].GrowthRole, act2, a2.Config.Kind, SlopeOf(a2), a2.Config.Alpha, SquaredFactors(bn2, site.Width));
        if (act < 0 || (layers[act] is Activation { Config.Kind: ActivationKind.Identity } && dw is null))
            throw new ArgumentException($"ssd: site {site.Name} has no nonlinear activation before its consumer: its splitting matrices are zero");
        var a = (Activation)layers[act];
        return new SiteShape(act, a.Config.Kind, SlopeOf(a), a.Config.Alpha, SquaredFactors(bn, site.Width), dw);
    }

    /// <summary>
    /// Runs gradient-only passes with zero probes on the activations of some sites and turns each batch into, per site,
    /// its input rows X [rows, FanIn] and G [rows, width] = weight · ∂L/∂a · σ''(z) · c² (weight = the batch's share of
    /// the samples); for a site whose activation feeds a depthwise conv and a second activation, also the second term's
    /// factors (<see cref="Dw"/>). The model runs in eval mode while this exists.
    /// </summary>
    private sealed class Gatherer : IDisposable
    {
        private readonly GrowableModel _model;
        private readonly IReadOnlyList<int> _sites;
        private readonly SiteShape[] _shape;
        private readonly int[] _second;   // per site: the probe of σ₂ after a depthwise conv, −1 without
        private readonly ProbeNet _net;
        private readonly Trainer _trainer;
        private readonly BatchPasses.MeasuringScope _measuring;
        private float[] _d2 = [];

        public Gatherer(GrowableModel model, IReadOnlyList<int> sites)
        {
            _model = model;
            _sites = sites;
            _shape = sites.Select(k => Analyze(model, k)).ToArray();
            X = new float[sites.Count][];
            G = new float[sites.Count][];
            Rows = new int[sites.Count];
            Dw = new DepthwiseBatch?[sites.Count];
            for (int j = 0; j < sites.Count; j++) { X[j] = []; G[j] = []; }
            // probes: σ₁ of every site (probe j = site j), then σ₂ of the depthwise sites
            var probed = _shape.Select(s => s.Activation).ToList();
            _second = new int[sites.Count];
            for (int j = 0; j < sites.Count; j++)
            {
                _second[j] = -1;
                if (_shape[j].Depthwise is not { } dw) continue;
                _second[j] = probed.Count;
                probed.Add(dw.Activation);
                Dw[j] = new DepthwiseBatch();
            }
            _net = new ProbeNet(model, sites, probed.ToArray(), X);
            _measuring = BatchPasses.Measuring(model.Module);
            _trainer = new Trainer(_net, optimizer: null, loss: null) { Name = "ssd splitting matrices" };
        }

        public float[][] X { get; }
        public float[][] G { get; }
        public int[] Rows { get; }

        /// <summary>Per site, the depthwise term's batch (null for a site without a depthwise conv and second activation).</summary>
        public DepthwiseBatch?[] Dw { get; }

        public double Weight { get; private set; }

        public void ForEachBatch(SplittingData data, StopSignal? stop, Action body)
        {
            int total = data.Samples;
            var loss = Loss.For(data.Data);
            var trainer = data.Data.HasTargets ? new Trainer(_net, optimizer: null, loss) { Name = _trainer.Name } : _trainer;
            foreach (var batch in BatchPasses.Take(data.Data, data.Order, data.Batches, data.BatchSize))
            {
                if (stop?.IsRequested == true) return;
                int n = batch.Rows;
                Weight = (double)n / total;
                trainer.Backward(batch);
                for (int j = 0; j < _sites.Count; j++) Fill(j, n);
                body();
            }
        }

        private void Fill(int j, int n)
        {
            var site = _model.Sites[_sites[j]];
            var shape = _shape[j];
            int w = site.Width, d = site.FanIn;
            var z = _net.Z[j];
            var grad = (_net.Probes[j].Grad ?? throw new InvalidOperationException($"ssd: no gradient reached site {site.Name}'s activation")).Span;
            int p = z.Length / (n * w);
            int rows = n * p;
            if (_net.RowCount[j] != rows)
                throw new InvalidOperationException($"ssd: site {site.Name}: {_net.RowCount[j]} input rows for {rows} activation positions");
            if (G[j].Length < rows * w) G[j] = new float[rows * w];
            if (_d2.Length < z.Length) _d2 = new float[z.Length];
            var d2 = _d2.AsSpan(0, z.Length);
            SecondDerivatives(shape.Kind, shape.Slope, shape.Alpha, z, d2);
            var gw = G[j];
            double weight = Weight;
            for (int i = 0; i < w; i++)
            {
                float f = (float)(weight * shape.C2[i]);
                if (p == 1)
                {
                    for (int s = 0; s < n; s++) gw[i * rows + s] = f * grad[s * w + i] * d2[s * w + i];
                    continue;
                }
                for (int s = 0; s < n; s++)
                {
                    int src = (s * w + i) * p;
                    var dst = gw.AsSpan(i * rows + s * p, p);
                    TensorPrimitives.Multiply(grad.Slice(src, p), d2.Slice(src, p), dst);
                    TensorPrimitives.Multiply(dst, f, dst);
                }
            }
            Rows[j] = rows;
            if (shape.Depthwise is { } dw) FillDepthwise(j, n, dw);
        }

        // the second term through the depthwise conv: T_i = σ₁'(z) at the producer's positions, C_i = weight · a₁² · a₂² ·
        // ∂L/∂g · σ₂''(u) at the depthwise conv's output positions (u = σ₂'s input, g = σ₂'s output), and the filters
        private void FillDepthwise(int j, int n, DepthwiseShape dw)
        {
            var site = _model.Sites[_sites[j]];
            var shape = _shape[j];
            int w = site.Width, k = _second[j];
            var z1 = _net.Z[j];
            var u = _net.Z[k];
            var (s1, s2) = (_net.ZShape[j], _net.ZShape[k]);
            var delta = (_net.Probes[k].Grad ?? throw new InvalidOperationException($"ssd: no gradient reached site {site.Name}'s second activation")).Span;
            if (s1.Length != 4 || s2.Length != 4 || s1[1] != w || s2[1] != w)
                throw new InvalidOperationException($"ssd: site {site.Name}: activations {Tensor.FormatShape(s1)} and {Tensor.FormatShape(s2)} around the depthwise conv are not [batch, {w}, H, W]");
            var b = Dw[j]!;
            b.Set(n, w, s1[2], s1[3], s2[2], s2[3], dw.Conv.Window, dw.Conv.Weight.Span);
            int rows = b.RowsIn, rowsOut = b.RowsOut, p = s1[2] * s1[3], q = s2[2] * s2[3];
            for (int i = 0; i < w; i++)
                for (int s = 0; s < n; s++)
                    FirstDerivatives(shape.Kind, shape.Slope, shape.Alpha, z1.AsSpan((s * w + i) * p, p), b.T.AsSpan(i * rows + s * p, p));
            if (_d2.Length < u.Length) _d2 = new float[u.Length];
            var d2 = _d2.AsSpan(0, u.Length);
            SecondDerivatives(dw.Kind, dw.Slope, dw.Alpha, u, d2);
            for (int i = 0; i < w; i++)
            {
                float f = (float)(Weight * shape.C2[i] * dw.A2[i]);
                for (int s = 0; s < n; s++)
                {
                    int src = (s * w + i) * q;
                    var dst = b.C.AsSpan(i * rowsOut + s * q, q);
                    TensorPrimitives.Multiply(delta.Slice(src, q), d2.Slice(src, q), dst);
                    TensorPrimitives.Multiply(dst, f, dst);
                }
            }
        }

        public void Dispose() => _measuring.Dispose();
    }

    /// <summary>
    /// One batch of a site whose activation σ₁ feeds a depthwise conv W and a second activation σ₂ (MobileNet's
    /// producer → BN → σ₁ → depthwise → BN → σ₂ → consumer). A channel's output is then g = σ₂(a₂·W(σ₁(a₁·Xθ + b₁)) + b₂)
    /// over the depthwise conv's output positions q, and its splitting matrix Σ_q ∂L/∂g_q ∇²g_q has, besides the usual
    /// Σ_p β_p σ₁''(z_p) a₁² x_p x_pᵀ (β = ∂L/∂σ₁'s output, after back-propagation through σ₂, the BatchNorm and W), the
    /// term Σ_q c_q r_q r_qᵀ with c_q = ∂L/∂g_q σ₂''(u_q) a₁² a₂² and r_q = Σ_p W_qp σ₁'(z_p) x_p: the filter applied to
    /// the σ₁'-weighted input rows. Holds per neuron i <see cref="T"/> = σ₁'(z) at the n·H·W producer positions,
    /// <see cref="C"/> = c at the n·Ho·Wo output positions (times the batch weight), and the filters.
    /// </summary>
    private sealed class DepthwiseBatch
    {
        private int _n, _h, _w, _ho, _wo, _k, _stride, _pad;

        /// <summary>σ₁' per neuron, [width, n·H·W] (rows in the order of the site's input rows).</summary>
        public float[] T { get; private set; } = [];

        /// <summary>The second term's weights per neuron, [width, n·Ho·Wo].</summary>
        public float[] C { get; private set; } = [];

        /// <summary>The depthwise filters, [width, k·k].</summary>
        public float[] Filter { get; private set; } = [];

        public int RowsIn => _n * _h * _w;

        public int RowsOut => _n * _ho * _wo;

        public void Set(int n, int width, int h, int w, int ho, int wo, ConvWindow window, ReadOnlySpan<float> filters)
        {
            (_n, _h, _w, _ho, _wo, _k, _stride, _pad) = (n, h, w, ho, wo, window.Kernel, window.Stride, window.Padding);
            if ((h + 2 * _pad - _k) / _stride + 1 != ho || (w + 2 * _pad - _k) / _stride + 1 != wo)
                throw new InvalidOperationException($"ssd: a depthwise conv k{_k} s{_stride} p{_pad} maps {h}×{w} to {ho}×{wo}");
            if (filters.Length != width * _k * _k)
                throw new InvalidOperationException($"ssd: {filters.Length} depthwise filter entries for {width} channels of {_k}×{_k}");
            if (T.Length < width * RowsIn) T = new float[width * RowsIn];
            if (C.Length < width * RowsOut) C = new float[width * RowsOut];
            if (Filter.Length != filters.Length) Filter = new float[filters.Length];
            filters.CopyTo(Filter);
        }

        /// <summary>dst [n·Ho·Wo] = neuron's depthwise filter over src [n·H·W] (the channel's conv, no bias).</summary>
        public void Forward(int neuron, ReadOnlySpan<float> src, Span<float> dst)
        {
            var f = Filter.AsSpan(neuron * _k * _k, _k * _k);
            int p = _h * _w, q = _ho * _wo;
            for (int s = 0; s < _n; s++)
                for (int oy = 0; oy < _ho; oy++)
                    for (int ox = 0; ox < _wo; ox++)
                    {
                        float acc = 0;
                        for (int ky = 0; ky < _k; ky++)
                        {
                            int iy = oy * _stride - _pad + ky;
                            if ((uint)iy >= (uint)_h) continue;
                            for (int kx = 0; kx < _k; kx++)
                            {
                                int ix = ox * _stride - _pad + kx;
                                if ((uint)ix < (uint)_w) acc += f[ky * _k + kx] * src[s * p + iy * _w + ix];
                            }
                        }
                        dst[s * q + oy * _wo + ox] = acc;
                    }
        }

        /// <summary>dst [n·H·W] = the transpose of <see cref="Forward"/> applied to src [n·Ho·Wo].</summary>
        public void Transpose(int neuron, ReadOnlySpan<float> src, Span<float> dst)
        {
            var f = Filter.AsSpan(neuron * _k * _k, _k * _k);
            int p = _h * _w, q = _ho * _wo;
            dst[..(_n * p)].Clear();
            for (int s = 0; s < _n; s++)
                for (int oy = 0; oy < _ho; oy++)
                    for (int ox = 0; ox < _wo; ox++)
                    {
                        float g = src[s * q + oy * _wo + ox];
                        if (g == 0) continue;
                        for (int ky = 0; ky < _k; ky++)
                        {
                            int iy = oy * _stride - _pad + ky;
                            if ((uint)iy >= (uint)_h) continue;
                            for (int kx = 0; kx < _k; kx++)
                            {
                                int ix = ox * _stride - _pad + kx;
                                if ((uint)ix < (uint)_w) dst[s * p + iy * _w + ix] += f[ky * _k + kx] * g;
                            }
                        }
                    }
        }

        /// <summary>
        /// r [n·Ho·Wo, d]: row q = Σ_p W_qp · σ₁'(z_p) · x_p, the neuron's filter over its σ₁'-weighted input rows
        /// x [n·H·W, d].
        /// </summary>
        public void Rows(int neuron, ReadOnlySpan<float> x, int d, Span<float> r)
        {
            var f = Filter.AsSpan(neuron * _k * _k, _k * _k);
            var t = T.AsSpan(neuron * RowsIn, RowsIn);
            int p = _h * _w, q = _ho * _wo;
            r[..(RowsOut * d)].Clear();
            for (int s = 0; s < _n; s++)
                for (int oy = 0; oy < _ho; oy++)
                    for (int ox = 0; ox < _wo; ox++)
                    {
                        var dst = r.Slice((s * q + oy * _wo + ox) * d, d);
                        for (int ky = 0; ky < _k; ky++)
                        {
                            int iy = oy * _stride - _pad + ky;
                            if ((uint)iy >= (uint)_h) continue;
                            for (int kx = 0; kx < _k; kx++)
                            {
                                int ix = ox * _stride - _pad + kx;
                                if ((uint)ix >= (uint)_w) continue;
                                int row = s * p + iy * _w + ix;
                                float c = f[ky * _k + kx] * t[row];
                                if (c != 0) TensorPrimitives.MultiplyAdd(x.Slice(row * d, d), c, dst, dst);
                            }
                        }
                    }
        }
    }

    // the model with a zero probe added to the output of some activation layers, so ∂L/∂probe = ∂L/∂a; it also keeps, of
    // the last forward pass, each site's input rows (GrowableModel.SiteInput at the producer) and each probed
    // activation's input (values and shape)
    private sealed class ProbeNet : Module
    {
        private readonly GrowableModel _model;
        private readonly IReadOnlyList<int> _sites;
        private readonly int[] _at, _producer;
        private readonly float[][] _rows;

        public ProbeNet(GrowableModel model, IReadOnlyList<int> sites, int[] activationLayers, float[][] rows)
        {
            _model = model;
            _sites = sites;
            _at = activationLayers;
            _producer = sites.Select(model.ProducerLayer).ToArray();
            _rows = rows;
            RegisterModule("model", model.Module);
            Probes = new Tensor[activationLayers.Length];
            for (int j = 0; j < Probes.Length; j++) Probes[j] = RegisterParameter("probe" + j.ToString(System.Globalization.CultureInfo.InvariantCulture), Tensor.Zeros(1).Persist());
            Z = new float[activationLayers.Length][];
            ZShape = new int[activationLayers.Length][];
            RowCount = new int[sites.Count];
        }

        public Tensor[] Probes { get; }

        // each probed activation's input, and its shape
        public float[][] Z { get; }

        public int[][] ZShape { get; }

        // input rows per site (written into the caller's buffers)
        public int[] RowCount { get; }

        public override Tensor Forward(Tensor x)
        {
            var layers = _model.Module.Layers;
            for (int i = 0; i < layers.Count; i++)
            {
                for (int j = 0; j < _producer.Length; j++)
                    if (_producer[j] == i) KeepRows(j, x);
                int a = Array.IndexOf(_at, i);
                x = layers[i].Forward(a >= 0 ? Capture(a, x) : x);
                if (a < 0) continue;
                var probe = Probes[a];
                if (!probe.Shape.SequenceEqual(x.Shape)) probe.Replace(new float[x.Length], x.ShapeArray());
                x = Ops.Add(x, probe);
            }
            return x;
        }

        private void KeepRows(int j, Tensor x)
        {
            using (Graph.NoGrad())
            {
                var rows = _model.SiteInput(x, _sites[j], atProducer: true);
                if (_rows[j].Length < rows.Length) _rows[j] = new float[rows.Length];
                rows.Span.CopyTo(_rows[j]);
                RowCount[j] = rows.Dim(0);
            }
        }

        private Tensor Capture(int j, Tensor x)
        {
            if (Z[j] is null || Z[j].Length != x.Length) Z[j] = new float[x.Length];
            x.Span.CopyTo(Z[j]);
            if (ZShape[j] is null || !x.Shape.SequenceEqual(ZShape[j])) ZShape[j] = x.ShapeArray();
            return x;
        }
    }
}
