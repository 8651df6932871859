using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>Adds N(0, σ²) to every pixel (no clipping).</summary>
public sealed class GaussianNoise : IAugmentation
{
    /// <summary>Standard deviation σ.</summary>
    public double Sigma { get; }

    /// <summary>Creates the transform.</summary>
    public GaussianNoise(double sigma)
    {
        if (!(sigma >= 0)) throw new ArgumentOutOfRangeException(nameof(sigma), "sigma must be non-negative");
        Sigma = sigma;
    }

    /// <inheritdoc />
    public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng)
    {
        for (int i = 0; i < image.Length; i++) image[i] += (float)(Sigma * rng.Normal());
    }
}

/// <summary>
/// Adds N(0, σ²) only to pixels within <see cref="Border"/> pixels of the image edge (default 5): rows
/// y &lt; b or y ≥ H-b, or columns x &lt; b or x ≥ W-b. Interior pixels are untouched. No clipping.
/// </summary>
public sealed class EdgeNoise : IAugmentation
{
    /// <summary>Standard deviation σ.</summary>
    public double Sigma { get; }

    /// <summary>Border width in pixels.</summary>
    public int Border { get; }

    /// <summary>Creates the transform.</summary>
    public EdgeNoise(double sigma, int border = 5)
    {
        if (!(sigma >= 0)) throw new ArgumentOutOfRangeException(nameof(sigma), "sigma must be non-negative");
        ArgumentOutOfRangeException.ThrowIfNegative(border);
        Sigma = sigma;
        Border = border;
    }

    /// <inheritdoc />
    public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng)
    {
        int h = shape.Height, w = shape.Width, b = Border;
        for (int c = 0; c < shape.Channels; c++)
        {
            var p = image.Slice(c * shape.Plane, shape.Plane);
            for (int y = 0; y < h; y++)
            {
                bool edgeRow = y < b || y >= h - b;
                for (int x = 0; x < w; x++)
                    if (edgeRow || x < b || x >= w - b)
                        p[y * w + x] += (float)(Sigma * rng.Normal());
            }
        }
    }
}
