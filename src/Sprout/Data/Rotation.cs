using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>Random rotation by degrees ~ U(-r, r) about the image centre, bilinear, nearest fill.</summary>
public sealed class RandomRotate : IAugmentation
{
    /// <summary>Largest rotation in degrees (r).</summary>
    public double MaxDegrees { get; }

    /// <summary>Creates the transform with a range of ±<paramref name="maxDegrees"/>.</summary>
    public RandomRotate(double maxDegrees)
    {
        if (!(maxDegrees >= 0 && maxDegrees <= 360)) throw new ArgumentOutOfRangeException(nameof(maxDegrees), "maxDegrees must be in [0, 360]");
        MaxDegrees = maxDegrees;
    }

    /// <summary>The paper's parameterisation: range ±int(a·360) degrees for a fraction a.</summary>
    public static RandomRotate FromFraction(double a) => new((int)(a * 360));

    /// <inheritdoc />
    public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng)
    {
        double deg = rng.Uniform(-MaxDegrees, MaxDegrees);
        ImageKernels.Rotate(image, scratch, shape, deg);
    }
}
