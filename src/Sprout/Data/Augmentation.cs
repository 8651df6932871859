using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>Shape of one image: channels, height, width (CHW layout, planes contiguous).</summary>
/// <param name="Channels">Number of channels.</param>
/// <param name="Height">Rows.</param>
/// <param name="Width">Columns.</param>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Pixels per channel plane.</summary>
    public int Plane => Height * Width;

    /// <summary>Floats per image.</summary>
    public int Size => Channels * Height * Width;
}

/// <summary>
/// A per-sample transform of one float CHW image, applied in place. Random transforms draw from the given
/// <see cref="Rng"/> only, so one seed drives everything. The loader applies augmentations to pixels scaled to
/// [0, 1], before mean/std normalisation (so zero padding is black and noise σ is in [0,1] units).
/// </summary>
public interface IAugmentation
{
    /// <summary>
    /// Transforms <paramref name="image"/> (length <c>shape.Size</c>) in place. <paramref name="scratch"/> is a
    /// work buffer of the same length whose contents are undefined before and after the call.
    /// </summary>
    void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng);
}

/// <summary>How a shifted or rotated image is sampled between pixels.</summary>
public enum Interpolation
{
    /// <summary>Bilinear interpolation (the default for continuous shifts and rotations).</summary>
    Bilinear,

    /// <summary>Nearest pixel: shifts are rounded to whole pixels, so pixels are copied exactly.</summary>
    Nearest,
}

/// <summary>Applies several augmentations in order.</summary>
public sealed class Compose : IAugmentation
{
    private readonly IAugmentation[] _steps;

    /// <summary>Creates the chain.</summary>
    public Compose(params IAugmentation[] steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        _steps = (IAugmentation[])steps.Clone();
    }

    /// <inheritdoc />
    public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng)
    {
        foreach (var s in _steps) s.Apply(image, scratch, shape, rng);
    }
}

/// <summary>Pixel kernels shared by the augmentations. All sampling uses nearest fill (coordinates are clamped to the image, like Keras fill_mode='nearest').</summary>
public static class ImageKernels
{
    /// <summary>
    /// Shifts every channel by (<paramref name="dx"/>, <paramref name="dy"/>) pixels (positive = right / down):
    /// <c>out(y, x) = in(y - dy, x - dx)</c>, sampled with nearest fill. In <see cref="Interpolation.Nearest"/>
    /// mode the shift is rounded to whole pixels first.
    /// </summary>
    public static void Translate(Span<float> image, Span<float> scratch, ImageShape shape, double dx, double dy, Interpolation mode)
    {
        CheckLengths(image, scratch, shape);
        image.CopyTo(scratch);
        int h = shape.Height, w = shape.Width, plane = shape.Plane;
        if (mode == Interpolation.Nearest)
        {
            int ix = (int)Math.Round(dx), iy = (int)Math.Round(dy);
            for (int c = 0; c < shape.Channels; c++)
            {
                var src = scratch.Slice(c * plane, plane);
                var dst = image.Slice(c * plane, plane);
                for (int y = 0; y < h; y++)
                {
                    int sy = Math.Clamp(y - iy, 0, h - 1);
                    var row = src.Slice(sy * w, w);
                    for (int x = 0; x < w; x++) dst[y * w + x] = row[Math.Clamp(x - ix, 0, w - 1)];
                }
            }
            return;
        }
        for (int c = 0; c < shape.Channels; c++)
        {
            var src = scratch.Slice(c * plane, plane);
            var dst = image.Slice(c * plane, plane);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    dst[y * w + x] = SampleBilinear(src, h, w, y - dy, x - dx);
        }
    }

    /// <summary>
    /// Rotates every channel by <paramref name="degrees"/> (counter-clockwise as displayed with row 0 at the top)
    /// about the image centre ((W-1)/2, (H-1)/2), bilinear, nearest fill.
    /// </summary>
    public static void Rotate(Span<float> image, Span<float> scratch, ImageShape shape, double degrees)
    {
        CheckLengths(image, scratch, shape);
        image.CopyTo(scratch);
        int h = shape.Height, w = shape.Width, plane = shape.Plane;
        double t = degrees * Math.PI / 180.0;
        double cos = Math.Cos(t), sin = Math.Sin(t);
        double cx = (w - 1) * 0.5, cy = (h - 1) * 0.5;
        for (int c = 0; c < shape.Channels; c++)
        {
            var src = scratch.Slice(c * plane, plane);
            var dst = image.Slice(c * plane, plane);
            for (int y = 0; y < h; y++)
            {
                double ry = y - cy;
                for (int x = 0; x < w; x++)
                {
                    double rx = x - cx;
                    // inverse map: rotate the output coordinate by -theta (screen coordinates, y down)
                    double sx = cos * rx - sin * ry + cx;
                    double sy = sin * rx + cos * ry + cy;
                    dst[y * w + x] = SampleBilinear(src, h, w, sy, sx);
                }
            }
        }
    }

    /// <summary>Bilinear sample of one plane at (y, x) with coordinates clamped to the image (nearest fill).</summary>
    public static float SampleBilinear(ReadOnlySpan<float> plane, int h, int w, double y, double x)
    {
        y = Math.Clamp(y, 0, h - 1);
        x = Math.Clamp(x, 0, w - 1);
        int y0 = (int)y, x0 = (int)x;
        int y1 = Math.Min(y0 + 1, h - 1), x1 = Math.Min(x0 + 1, w - 1);
        double fy = y - y0, fx = x - x0;
        double top = plane[y0 * w + x0] + fx * (plane[y0 * w + x1] - plane[y0 * w + x0]);
        double bottom = plane[y1 * w + x0] + fx * (plane[y1 * w + x1] - plane[y1 * w + x0]);
        if (fy == 0) return (float)top;
        return (float)(top + fy * (bottom - top));
    }

    internal static void CheckLengths(Span<float> image, Span<float> scratch, ImageShape shape)
    {
        if (image.Length != shape.Size) throw new ArgumentException($"image has {image.Length} values, shape needs {shape.Size}");
        if (scratch.Length < shape.Size) throw new ArgumentException($"scratch has {scratch.Length} values, needs {shape.Size}");
    }
}
