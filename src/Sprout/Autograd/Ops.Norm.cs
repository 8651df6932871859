using System.Numerics.Tensors;
using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Autograd;

public static partial class Ops
{
    /// <summary>
    /// Batch normalisation over channel axis 1 of x [N, C] or [N, C, H, W]. Training: batch statistics (biased
    /// variance to normalise) and, when given, running statistics updated in place as PyTorch does
    /// (r = (1−momentum)·r + momentum·batch, unbiased variance). Evaluation: running statistics.
    /// γ and β may be null (no affine part). With <paramref name="activation"/> the ReLU or Swish that follows is fused
    /// in: the output is act(BN(x)) and the activation's derivative is recomputed from x in backward, saving a pass and
    /// a tensor each way.
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        bool training, float momentum = 0.1f, float eps = 1e-5f, NormActivation activation = NormActivation.None)
    {
        if (x.Rank != 2 && x.Rank != 4) throw new ArgumentException($"BatchNorm needs [N,C] or [N,C,H,W], got {Tensor.FormatShape(x.Shape)}");
        int n = x.Dim(0), c = x.Dim(1), hw = x.Rank == 4 ? x.Dim(2) * x.Dim(3) : 1;
        foreach (var p in new[] { gamma, beta, runningMean, runningVar })
            if (p is not null && (p.Rank != 1 || p.Dim(0) != c))
                throw new ArgumentException($"BatchNorm: parameter {Tensor.FormatShape(p.Shape)} does not match {c} channels");
        if (!training && (runningMean is null || runningVar is null))
            throw new InvalidOperationException("BatchNorm in evaluation mode needs running statistics");
        long m = (long)n * hw;
        if (training && m < 2) throw new ArgumentException("BatchNorm in training mode needs more than one value per channel");
        var y = NewOut(x.ShapeArray());
        var mean = new float[c];
        var invStd = new float[c];
        var scales = new float[c];
        var shifts = new float[c];
        // Every pass sweeps the tensor in memory order (image by image, channel planes in turn): a channel-by-channel
        // walk reads one plane per image at a stride of C·H·W floats, a page apart for 32×32 planes, and spends its time
        // waiting for memory. Threads take fixed image ranges; their per-channel partial statistics are merged in part
        // order, so results depend only on the thread count.
        int parts = ImageParts(n, (long)n * c * hw);
        if (training)
        {
            // per part and channel: values seen, mean and M2 (Σ(x − mean)²), merged plane by plane (Chan et al.)
            var pMean = new double[parts * c];
            var pM2 = new double[parts * c];
            Workers.Run(parts, part =>
            {
                var (i0, i1) = Range(n, part, parts);
                var xs = x.Span;
                Span<float> tmp = hw <= 4096 ? stackalloc float[hw] : new float[hw];
                var pm = pMean.AsSpan(part * c, c);
                var p2 = pM2.AsSpan(part * c, c);
                for (int i = i0; i < i1; i++)
                {
                    double seen = (double)(i - i0) * hw;
                    for (int ch = 0; ch < c; ch++)
                    {
                        var plane = xs.Slice((i * c + ch) * hw, hw);
                        double planeMean = (double)TensorPrimitives.Sum(plane) / hw;
                        TensorPrimitives.Subtract(plane, (float)planeMean, tmp);
                        double planeM2 = TensorPrimitives.SumOfSquares(tmp);
                        MergeMoments(ref pm[ch], ref p2[ch], seen, planeMean, planeM2, hw);
                    }
                }
            });
            for (int ch = 0; ch < c; ch++)
            {
                double md = pMean[ch], m2 = pM2[ch];
                for (int part = 1; part < parts; part++)
                {
                    var (p0, p1) = Range(n, part, parts);
                    MergeMoments(ref md, ref m2, (double)p0 * hw, pMean[part * c + ch], pM2[part * c + ch], (double)(p1 - p0) * hw);
                }
                double var = m2 / m;
                mean[ch] = (float)md;
                invStd[ch] = (float)(1.0 / Math.Sqrt(var + eps));
                if (runningMean is not null) runningMean.Span[ch] = (1 - momentum) * runningMean.Span[ch] + momentum * mean[ch];
                if (runningVar is not null) runningVar.Span[ch] = (1 - momentum) * runningVar.Span[ch] + momentum * (float)(m2 / (m - 1));
            }
        }
        else
            for (int ch = 0; ch < c; ch++)
            {
                mean[ch] = runningMean!.Span[ch];
                invStd[ch] = 1f / MathF.Sqrt(runningVar!.Span[ch] + eps);
            }
        for (int ch = 0; ch < c; ch++)
        {
            // y = (x − μ)·(γ·istd) + β  (then the fused activation)
            float scale = (gamma is null ? 1f : gamma.Span[ch]) * invStd[ch];
            scales[ch] = scale;
            shifts[ch] = (beta is null ? 0f : beta.Span[ch]) - mean[ch] * scale;
        }
        Workers.Run(parts, part =>
        {
            var (i0, i1) = Range(n, part, parts);
            var xs = x.Span;
            var ys = y.Span;
            for (int i = i0; i < i1; i++)
                for (int ch = 0; ch < c; ch++)
                {
                    int o = (i * c + ch) * hw;
                    NormKernels.Apply(xs.Slice(o, hw), scales[ch], shifts[ch], ys.Slice(o, hw), activation);
                }
        });
        if (!Graph.Needs(x, gamma ?? x, beta)) return y;
        var inputs = new List<Tensor> { x };
        if (gamma is not null) inputs.Add(gamma);
        if (beta is not null) inputs.Add(beta);
        Graph.Record(y, activation switch { NormActivation.Relu => "BatchNormRelu", NormActivation.Swish => "BatchNormSwish", _ => "BatchNorm" }, inputs.ToArray(), () =>
        {
            Tensor? gx = null;
            bool gxFresh = false;
            if (x.RequiresGrad) gx = x.GradBuffer(out gxFresh);
            // γ and β gradient buffers are taken once: asked per channel, every channel after the first would see a
            // "not fresh" buffer and add onto the previous step's stale values
            Tensor? gg = null, gbeta = null;
            bool ggFresh = false, gbFresh = false;
            if (gamma is not null && gamma.RequiresGrad) gg = gamma.GradBuffer(out ggFresh);
            if (beta is not null && beta.RequiresGrad) gbeta = beta.GradBuffer(out gbFresh);
            var gyT = y.Grad!;
            // Σd and Σd·x per channel (d = dy times the fused activation's derivative): per part, then merged in part order
            var sums = new double[parts * c * 2];
            if (training || gg is not null || gbeta is not null)
                Workers.Run(parts, part =>
                {
                    var (i0, i1) = Range(n, part, parts);
                    var gy = gyT.Span;
                    var xs2 = x.Span;
                    var acc = sums.AsSpan(part * c * 2, c * 2);
                    for (int i = i0; i < i1; i++)
                        for (int ch = 0; ch < c; ch++)
                        {
                            int o = (i * c + ch) * hw;
                            var (sd, sdx) = NormKernels.GradSums(gy.Slice(o, hw), xs2.Slice(o, hw), activation, scales[ch], shifts[ch]);
                            acc[2 * ch] += sd;
                            acc[2 * ch + 1] += sdx;
                        }
                });
            var ka = new float[c];
            var kb = new float[c];
            var kc = new float[c];
            for (int ch = 0; ch < c; ch++)
            {
                double sumDy = 0, sumDyX = 0;
                for (int part = 0; part < parts; part++)
                {
                    sumDy += sums[(part * c + ch) * 2];
                    sumDyX += sums[(part * c + ch) * 2 + 1];
                }
                float mu = mean[ch], istd = invStd[ch];
                // Σdy·x̂ = istd·(Σdy·x − μ·Σdy)
                double sumDyXhat = istd * (sumDyX - mu * sumDy);
                if (gg is not null) gg.Span[ch] = ggFresh ? (float)sumDyXhat : gg.Span[ch] + (float)sumDyXhat;
                if (gbeta is not null) gbeta.Span[ch] = gbFresh ? (float)sumDy : gbeta.Span[ch] + (float)sumDy;
                // training: dx = γ·istd·(dy − mean(dy) − x̂·mean(dy·x̂)) = a·dy + b·x + k0
                // evaluation: dx = γ·istd·dy
                float gam = gamma is null ? 1f : gamma.Span[ch];
                float a = gam * istd;
                float b = 0f, k0 = 0f;
                if (training)
                {
                    float mdy = (float)(sumDy / m), mdyx = (float)(sumDyXhat / m);
                    b = -a * mdyx * istd;
                    k0 = -a * mdy + a * mdyx * istd * mu;
                }
                (ka[ch], kb[ch], kc[ch]) = (a, b, k0);
            }
            if (gx is null) return;
            Workers.Run(parts, part =>
            {
                var (i0, i1) = Range(n, part, parts);
                var gy = gyT.Span;
                var xs2 = x.Span;
                var d = gx.Span;
                // images in reverse: the last ones the sums pass read are still in cache
                for (int i = i1 - 1; i >= i0; i--)
                    for (int ch = 0; ch < c; ch++)
                    {
                        int o = (i * c + ch) * hw;
                        NormKernels.GradApply(gy.Slice(o, hw), xs2.Slice(o, hw), activation, scales[ch], shifts[ch], ka[ch], kb[ch], kc[ch], d.Slice(o, hw), !gxFresh);
                    }
            });
        });
        return y;
    }

    // One part per thread for work split by whole channels (or planes) when there are enough values for a hand-off.
    private static int ChannelParts(int channels, long values) =>
        Workers.Threads > 1 && channels > 1 && values >= 1L << 16 ? Math.Min(Workers.Threads, channels) : 1;

    // One part per thread for work split by whole images when there are enough values for a hand-off.
    private static int ImageParts(int images, long values) =>
        Workers.Threads > 1 && images > 1 && values >= 1L << 16 ? Math.Min(Workers.Threads, images) : 1;

    // Merges a block of `count` values with mean `blockMean` and M2 `blockM2` into running (mean, M2) over `seen` values
    // (Chan, Golub & LeVeque's pairwise update: no cancellation between large sums).
    private static void MergeMoments(ref double mean, ref double m2, double seen, double blockMean, double blockM2, double count)
    {
        double total = seen + count;
        double delta = blockMean - mean;
        mean += delta * count / total;
        m2 += blockM2 + delta * delta * seen * count / total;
    }
}
