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
        // channels are independent: threads take fixed channel ranges (results never depend on the split)
        int parts = ChannelParts(c, (long)n * c * hw);
        Workers.Run(parts, part =>
        {
            var (c0, c1) = Range(c, part, parts);
            var xs = x.Span;
            var ys = y.Span;
            Span<float> tmp = hw <= 4096 ? stackalloc float[hw] : new float[hw];
            for (int ch = c0; ch < c1; ch++)
            {
                float mu, istd;
                if (training)
                {
                    // two vectorized passes per channel: Σx, then Σ(x−μ)² (per plane, accumulated in double)
                    double s = 0;
                    for (int i = 0; i < n; i++) s += TensorPrimitives.Sum(xs.Slice((i * c + ch) * hw, hw));
                    double md = s / m;
                    double v = 0;
                    for (int i = 0; i < n; i++)
                    {
                        TensorPrimitives.Subtract(xs.Slice((i * c + ch) * hw, hw), (float)md, tmp);
                        v += TensorPrimitives.SumOfSquares(tmp);
                    }
                    double var = v / m;
                    mu = (float)md;
                    istd = (float)(1.0 / Math.Sqrt(var + eps));
                    if (runningMean is not null) runningMean.Span[ch] = (1 - momentum) * runningMean.Span[ch] + momentum * mu;
                    if (runningVar is not null) runningVar.Span[ch] = (1 - momentum) * runningVar.Span[ch] + momentum * (float)(v / (m - 1));
                }
                else
                {
                    mu = runningMean!.Span[ch];
                    istd = 1f / MathF.Sqrt(runningVar!.Span[ch] + eps);
                }
                mean[ch] = mu;
                invStd[ch] = istd;
                // y = (x − μ)·(γ·istd) + β  (then the fused activation)
                float scale = (gamma is null ? 1f : gamma.Span[ch]) * istd;
                float shift = (beta is null ? 0f : beta.Span[ch]) - mu * scale;
                scales[ch] = scale;
                shifts[ch] = shift;
                for (int i = 0; i < n; i++)
                {
                    int o = (i * c + ch) * hw;
                    NormKernels.Apply(xs.Slice(o, hw), scale, shift, ys.Slice(o, hw), activation);
                }
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
            Workers.Run(parts, part =>
            {
                var (c0, c1) = Range(c, part, parts);
                var gy = gyT.Span;
                var xs2 = x.Span;
                for (int ch = c0; ch < c1; ch++)
                {
                    float mu = mean[ch], istd = invStd[ch];
                    // Σdy and Σdy·x̂ = istd·(Σdy·x − μ·Σdy) in one pass per plane (dy times the fused activation's derivative)
                    double sumDy = 0, sumDyX = 0;
                    if (training || gg is not null || gbeta is not null)
                        for (int i = 0; i < n; i++)
                        {
                            int o = (i * c + ch) * hw;
                            var (sd, sdx) = NormKernels.GradSums(gy.Slice(o, hw), xs2.Slice(o, hw), activation, scales[ch], shifts[ch]);
                            sumDy += sd;
                            sumDyX += sdx;
                        }
                    double sumDyXhat = istd * (sumDyX - mu * sumDy);
                    if (gg is not null) gg.Span[ch] = ggFresh ? (float)sumDyXhat : gg.Span[ch] + (float)sumDyXhat;
                    if (gbeta is not null) gbeta.Span[ch] = gbFresh ? (float)sumDy : gbeta.Span[ch] + (float)sumDy;
                    if (gx is null) continue;
                    float gam = gamma is null ? 1f : gamma.Span[ch];
                    var d = gx.Span;
                    // training: dx = γ·istd·(dy − mean(dy) − x̂·mean(dy·x̂)) = a·dy + b·x + k0
                    // evaluation: dx = γ·istd·dy
                    float a = gam * istd;
                    float b = 0f, k0 = 0f;
                    if (training)
                    {
                        float mdy = (float)(sumDy / m), mdyx = (float)(sumDyXhat / m);
                        b = -a * mdyx * istd;
                        k0 = -a * mdy + a * mdyx * istd * mu;
                    }
                    // planes in reverse: the last ones the sums pass read are still in L2
                    for (int i = n - 1; i >= 0; i--)
                    {
                        int o = (i * c + ch) * hw;
                        NormKernels.GradApply(gy.Slice(o, hw), xs2.Slice(o, hw), activation, scales[ch], shifts[ch], a, b, k0, d.Slice(o, hw), !gxFresh);
                    }
                }
            });
        });
        return y;
    }

    // One part per thread for work split by whole channels (or planes) when there are enough values for a hand-off.
    private static int ChannelParts(int channels, long values) =>
        Workers.Threads > 1 && channels > 1 && values >= 1L << 16 ? Math.Min(Workers.Threads, channels) : 1;
}
