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
        var ps = parameters.Where(p => p.Grad is not null).ToList();
        double sq = 0;
        foreach (var p in ps)
            foreach (float g in p.Grad!.Span) sq += (double)g * g;
        double norm = Math.Sqrt(sq);
        if (!double.IsFinite(norm)) return norm;
        if (norm > maxNorm)
        {
            float scale = (float)(maxNorm / (norm + 1e-6));
            foreach (var p in ps) System.Numerics.Tensors.TensorPrimitives.Multiply(p.Grad!.Span, scale, p.Grad!.Span);
        }
        return norm;
    }
}
