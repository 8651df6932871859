using System.Runtime.Intrinsics;

namespace Sprout.Kernels;

/// <summary>Fused optimizer updates, one pass over each parameter. Each SIMD kernel has a scalar twin.</summary>
public static class OptimKernels
{
    /// <summary>
    /// Adam/AdamW for one parameter (PyTorch's formulation): g' = g + l2·p; m = β1·m + (1−β1)·g';
    /// v = β2·v + (1−β2)·g'²; p = p·(1 − lr·decoupledWd) − (lr/bc1)·m / (√v/√bc2 + ε).
    /// </summary>
    public static void Adam(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, float l2, float decoupledWd, float bc1, float bc2)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vb1 = Vector512.Create(beta1); var vb1c = Vector512.Create(1 - beta1);
            var vb2 = Vector512.Create(beta2); var vb2c = Vector512.Create(1 - beta2);
            var step = Vector512.Create(lr / bc1); var invSqrtBc2 = Vector512.Create(1f / MathF.Sqrt(bc2));
            var veps = Vector512.Create(eps); var vl2 = Vector512.Create(l2); var decay = Vector512.Create(1 - lr * decoupledWd);
            for (; i + 16 <= p.Length; i += 16)
            {
                var pv = Vector512.Create(p.Slice(i, 16));
                var gv = Vector512.Create(g.Slice(i, 16)) + vl2 * pv;
                var mv = vb1 * Vector512.Create(m.Slice(i, 16)) + vb1c * gv;
                var vv = vb2 * Vector512.Create(v.Slice(i, 16)) + vb2c * (gv * gv);
                var denom = Vector512.Sqrt(vv) * invSqrtBc2 + veps;
                pv = pv * decay - step * mv / denom;
                mv.CopyTo(m.Slice(i, 16));
                vv.CopyTo(v.Slice(i, 16));
                pv.CopyTo(p.Slice(i, 16));
            }
        }
        AdamScalar(p[i..], g[i..], m[i..], v[i..], lr, beta1, beta2, eps, l2, decoupledWd, bc1, bc2);
    }

    /// <summary>Scalar twin of <see cref="Adam"/>.</summary>
    public static void AdamScalar(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
        float lr, float beta1, float beta2, float eps, float l2, float decoupledWd, float bc1, float bc2)
    {
        float step = lr / bc1, invSqrtBc2 = 1f / MathF.Sqrt(bc2), decay = 1 - lr * decoupledWd;
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i] + l2 * p[i];
            float mi = beta1 * m[i] + (1 - beta1) * gi;
            float vi = beta2 * v[i] + (1 - beta2) * (gi * gi);
            float denom = MathF.Sqrt(vi) * invSqrtBc2 + eps;
            p[i] = p[i] * decay - step * mi / denom;
            m[i] = mi;
            v[i] = vi;
        }
    }

    /// <summary>
    /// SGD with momentum (PyTorch): g' = g + wd·p; buf = μ·buf + (1−dampening)·g' (buf = g' on the first step);
    /// d = nesterov ? g' + μ·buf : buf; p −= lr·d. Without momentum d = g'.
    /// </summary>
    public static void Sgd(Span<float> p, ReadOnlySpan<float> g, Span<float> buf, float lr, float momentum, float dampening,
        bool nesterov, float wd, bool firstStep)
    {
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i] + wd * p[i];
            float d = gi;
            if (momentum != 0f)
            {
                float b = firstStep ? gi : momentum * buf[i] + (1 - dampening) * gi;
                buf[i] = b;
                d = nesterov ? gi + momentum * b : b;
            }
            p[i] -= lr * d;
        }
    }

    /// <summary>
    /// RMSprop (PyTorch): g' = g + wd·p; sq = α·sq + (1−α)·g'²; centered: ga = α·ga + (1−α)·g', avg = √(sq − ga²) + ε,
    /// else avg = √sq + ε; momentum: buf = μ·buf + g'/avg, p −= lr·buf; else p −= lr·g'/avg.
    /// </summary>
    public static void RmsProp(Span<float> p, ReadOnlySpan<float> g, Span<float> sq, Span<float> gavg, Span<float> buf,
        float lr, float alpha, float eps, float momentum, bool centered, float wd)
    {
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i] + wd * p[i];
            float s = alpha * sq[i] + (1 - alpha) * gi * gi;
            sq[i] = s;
            float avg;
            if (centered)
            {
                float ga = alpha * gavg[i] + (1 - alpha) * gi;
                gavg[i] = ga;
                avg = MathF.Sqrt(s - ga * ga) + eps;
            }
            else avg = MathF.Sqrt(s) + eps;
            if (momentum > 0f)
            {
                float b = momentum * buf[i] + gi / avg;
                buf[i] = b;
                p[i] -= lr * b;
            }
            else p[i] -= lr * gi / avg;
        }
    }
}
