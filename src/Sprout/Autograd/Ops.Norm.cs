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
    /// <para>
    /// With <paramref name="sync"/> (training only) x is this process's part of a batch split over several processes,
    /// and the statistics are the whole batch's: each process's per-channel (count, mean, M2) are merged in rank order
    /// (Chan et al.), so every process normalises with, and updates its running statistics from, the same global mean
    /// and variance. Backward adds the processes' Σd and Σd·x, each weighted by its
    /// <see cref="IBatchStatisticsSync.Weight"/> (the global loss's upstream gradient is Weight × this process's), and
    /// returns dx of the global loss divided by the weight, i.e. in this process's own loss scale like every other
    /// gradient; γ and β get this process's own sums (the data-parallel gradient reduction weights and adds them). Each
    /// call is one collective forward and one backward (when x needs a gradient), on every process alike. Null: this
    /// batch alone.
    /// </para>
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? gamma, Tensor? beta, Tensor? runningMean, Tensor? runningVar,
        bool training, float momentum = 0.1f, float eps = 1e-5f, NormActivation activation = NormActivation.None,
        IBatchStatisticsSync? sync = null)
    {
        if (x.Rank != 2 && x.Rank != 4) throw new ArgumentException($"BatchNorm needs [N,C] or [N,C,H,W], got {Tensor.FormatShape(x.Shape)}");
        int n = x.Dim(0), c = x.Dim(1), hw = x.Rank == 4 ? x.Dim(2) * x.Dim(3) : 1;
        foreach (var p in new[] { gamma, beta, runningMean, runningVar })
            if (p is not null && (p.Rank != 1 || p.Dim(0) != c))
                throw new ArgumentException($"BatchNorm: parameter {Tensor.FormatShape(p.Shape)} does not match {c} channels");
        if (!training && (runningMean is null || runningVar is null))
            throw new InvalidOperationException("BatchNorm in evaluation mode needs running statistics");
        long m = (long)n * hw;
        if (!training) sync = null;
        double weight = 1;
        if (sync is not null)
        {
            weight = sync.Weight;
            if (!(weight > 0) || !double.IsFinite(weight) || sync.Size < 1 || (uint)sync.Rank >= (uint)sync.Size)
                throw new ArgumentException($"BatchNorm: bad synchronisation (rank {sync.Rank} of {sync.Size}, weight {weight})");
        }
        else if (training && m < 2) throw new ArgumentException("BatchNorm in training mode needs more than one value per channel");
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
                pMean[ch] = md;
                pM2[ch] = m2;
            }
            if (sync is not null) m = MergeOverProcesses(sync, m, pMean, pM2, c);
            for (int ch = 0; ch < c; ch++)
            {
                double md = pMean[ch], m2 = pM2[ch];
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
            var profile = Graph.Profile;
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
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
            profile?.Add($"  BatchNorm sums {c}ch @{hw}", System.Diagnostics.Stopwatch.GetTimestamp() - t0);
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
                sums[2 * ch] = sumDy;
                sums[2 * ch + 1] = sumDyX;
            }
            // synchronised: the whole batch's Σd and Σd·x for dx (γ and β keep this process's own sums, read first)
            double[]? global = null;
            if (sync is not null && gx is not null)
            {
                global = new double[2 * c];
                for (int j = 0; j < global.Length; j++) global[j] = weight * sums[j];
                sync.AllReduceSum(global);
                for (int j = 0; j < global.Length; j++) global[j] /= weight;
            }
            for (int ch = 0; ch < c; ch++)
            {
                double sumDy = sums[2 * ch], sumDyX = sums[2 * ch + 1];
                float mu = mean[ch], istd = invStd[ch];
                // Σdy·x̂ = istd·(Σdy·x − μ·Σdy)
                double sumDyXhat = istd * (sumDyX - mu * sumDy);
                if (gg is not null) gg.Span[ch] = ggFresh ? (float)sumDyXhat : gg.Span[ch] + (float)sumDyXhat;
                if (gbeta is not null) gbeta.Span[ch] = gbFresh ? (float)sumDy : gbeta.Span[ch] + (float)sumDy;
                if (global is not null)
                {
                    sumDy = global[2 * ch];
                    sumDyXhat = istd * (global[2 * ch + 1] - mu * sumDy);
                }
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
            t0 = System.Diagnostics.Stopwatch.GetTimestamp();
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
            profile?.Add($"  BatchNorm dx {c}ch @{hw}", System.Diagnostics.Stopwatch.GetTimestamp() - t0);
        });
        return y;
    }

    // Merges every process's per-channel (count, mean, M2) — this one's in `mean` and `m2` over `count` values per
    // channel — in rank order (Chan et al.), the same on every process; `mean` and `m2` become the global ones. Each
    // process fills its own slot of one buffer and zeros elsewhere, so the sum over processes delivers every slot exactly.
    // Returns the global count per channel; fewer than two values in all is refused on every process alike.
    private static long MergeOverProcesses(IBatchStatisticsSync sync, long count, double[] mean, double[] m2, int c)
    {
        int slot = 2 * c + 1, size = sync.Size;
        var all = new double[size * slot];
        var mine = all.AsSpan(sync.Rank * slot, slot);
        mine[0] = count;
        mean.AsSpan(0, c).CopyTo(mine.Slice(1, c));
        m2.AsSpan(0, c).CopyTo(mine.Slice(1 + c, c));
        sync.AllReduceSum(all);
        double total = 0;
        for (int r = 0; r < size; r++) total += all[r * slot];
        if (total < 2) throw new ArgumentException("BatchNorm in training mode needs more than one value per channel");
        for (int ch = 0; ch < c; ch++)
        {
            double md = 0, s2 = 0, seen = 0;
            for (int r = 0; r < size; r++)
            {
                double n = all[r * slot];
                if (n == 0) continue;
                double rm = all[r * slot + 1 + ch], r2 = all[r * slot + 1 + c + ch];
                if (seen == 0) (md, s2) = (rm, r2);
                else MergeMoments(ref md, ref s2, seen, rm, r2, n);
                seen += n;
            }
            mean[ch] = md;
            m2[ch] = s2;
        }
        return (long)total;
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
