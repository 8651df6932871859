using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>
/// CIFAR-style random crop: pads the image with <see cref="Padding"/> zeros on every side and crops back to the
/// original size at a uniformly random offset (0..2p in each direction).
/// </summary>
public sealed class RandomCropPad : IAugmentation
{
    /// <summary>Zero padding p on each side.</summary>
    public int Padding { get; }

    /// <summary>Creates the transform (p = 4 is the usual CIFAR choice).</summary>
    public RandomCropPad(int padding = 4)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        Padding = padding;
    }

    /// <inheritdoc />
    public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng)
    {
        int ox = rng.NextInt(2 * Padding + 1) - Padding;
        int oy = rng.NextInt(2 * Padding + 1) - Padding;
        Crop(image, scratch, shape, ox, oy);
    }

    /// <summary>out(y, x) = in(y + oy, x + ox), or 0 outside the source image.</summary>
    public static void Crop(Span<float> image, Span<float> scratch, ImageShape shape, int ox, int oy)
    {
        ImageKernels.CheckLengths(image, scratch, shape);
        if (ox == 0 && oy == 0) return;
        image.CopyTo(scratch);
        int h = shape.Height, w = shape.Width;
        for (int c = 0; c < shape.Channels; c++)
        {
            var src = scratch.Slice(c * shape.Plane, shape.Plane);
            var dst = image.Slice(c * shape.Plane, shape.Plane);
            for (int y = 0; y < h; y++)
            {
                int sy = y + oy;
                var drow = dst.Slice(y * w, w);
                if ((uint)sy >= (uint)h) { drow.Clear(); continue; }
                for (int x = 0; x < w; x++)
                {
                    int sx = x + ox;
                    drow[x] = (uint)sx < (uint)w ? src[sy * w + sx] : 0f;
                }
            }
        }
    }
}

/// <summary>Mirrors the image left–right with probability <see cref="Probability"/> (default 0.5).</summary>
public sealed class HorizontalFlip : IAugmentation
{
    /// <summary>Probability of flipping.</summary>
    public double Probability { get; }

    /// <summary>Creates the transform.</summary>
    public HorizontalFlip(double probability = 0.5)
    {
        if (!(probability >= 0 && probability <= 1)) throw new ArgumentOutOfRangeException(nameof(probability));
        Probability = probability;
    }

    /// <inheritdoc />
    public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng)
    {
        if (rng.NextDouble() >= Probability) return;
        Flip(image, shape);
    }

    /// <summary>Mirrors every row of every channel in place.</summary>
    public static void Flip(Span<float> image, ImageShape shape)
    {
        int w = shape.Width;
        for (int r = 0; r < shape.Channels * shape.Height; r++) image.Slice(r * w, w).Reverse();
    }
}
