using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>
/// Random translation: shifts dx ~ U(-a·W, a·W) and dy ~ U(-a·H, a·H) pixels (continuous), nearest fill
/// (edge pixels replicate outward). Bilinear by default; <see cref="Interpolation.Nearest"/> rounds the shift to
/// whole pixels.
/// </summary>
public sealed class RandomTranslate : IAugmentation
{
    /// <summary>Largest shift as a fraction of width (x) and height (y).</summary>
    public double Fraction { get; }

    /// <summary>Sampling mode.</summary>
    public Interpolation Mode { get; }

    /// <summary>Creates the transform; <paramref name="fraction"/> must be in [0, 1].</summary>
    public RandomTranslate(double fraction, Interpolation mode = Interpolation.Bilinear)
    {
        if (!(fraction >= 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), "fraction must be in [0, 1]");
        Fraction = fraction;
        Mode = mode;
    }

    /// <inheritdoc />
    public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng)
    {
        double dx = rng.Uniform(-Fraction * shape.Width, Fraction * shape.Width);
        double dy = rng.Uniform(-Fraction * shape.Height, Fraction * shape.Height);
        ImageKernels.Translate(image, scratch, shape, dx, dy, Mode);
    }
}

/// <summary>
/// Evaluation transform: a fixed translation by (fx·W, fy·H) pixels (positive = right / down), nearest fill.
/// Translation by 0 is the identity.
/// </summary>
public sealed class FixedTranslate : IAugmentation
{
    /// <summary>Shift as a fraction of the width (positive = right).</summary>
    public double FractionX { get; }

    /// <summary>Shift as a fraction of the height (positive = down).</summary>
    public double FractionY { get; }

    /// <summary>Sampling mode.</summary>
    public Interpolation Mode { get; }

    /// <summary>Creates the transform.</summary>
    public FixedTranslate(double fractionX, double fractionY, Interpolation mode = Interpolation.Bilinear)
    {
        FractionX = fractionX;
        FractionY = fractionY;
        Mode = mode;
    }

    /// <inheritdoc />
    public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng) =>
        ImageKernels.Translate(image, scratch, shape, FractionX * shape.Width, FractionY * shape.Height, Mode);
}
