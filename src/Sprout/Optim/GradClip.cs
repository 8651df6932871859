namespace Sprout.Optim;

/// <summary>Gradient clipping.</summary>
public static class GradClip
{
    /// <summary>
    /// Scales all gradients so their joint L2 norm is at most <paramref name="maxNorm"/> (PyTorch clip_grad_norm_).
    /// Returns the norm before clipping (NaN/∞ if a gradient is not finite; then nothing is scaled).
    /// </summary>
    public static double ClipByNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return ClipByNorm(parameters as IReadOnlyList<Tensor> ?? parameters.ToArray(), maxNorm);
    }

    /// <summary>As <see cref="ClipByNorm(IEnumerable{Tensor}, double)"/>, without allocating (for a training step).</summary>
    public static double ClipByNorm(IReadOnlyList<Tensor> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        double sq = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var g = parameters[i].Grad;
            if (g is null) continue;
            foreach (float v in g.Span) sq += (double)v * v;
        }
        double norm = Math.Sqrt(sq);
        if (!double.IsFinite(norm)) return norm;
        if (norm > maxNorm)
        {
            float scale = (float)(maxNorm / (norm + 1e-6));
            for (int i = 0; i < parameters.Count; i++)
            {
                var g = parameters[i].Grad;
                if (g is not null) System.Numerics.Tensors.TensorPrimitives.Multiply(g.Span, scale, g.Span);
            }
        }
        return norm;
    }
}
