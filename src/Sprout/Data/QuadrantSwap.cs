using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>
/// Evaluation transform: swaps the top-right quadrant with the bottom-left quadrant in every channel.
/// With h2 = ⌊H/2⌋ and w2 = ⌊W/2⌋, the top-right quadrant is rows [0, h2) × columns [W-w2, W) and the bottom-left
/// quadrant is rows [H-h2, H) × columns [0, w2); both are h2 × w2 blocks. For odd sizes the middle row and middle
/// column belong to neither quadrant and stay in place. The swap is its own inverse (applying it twice is the identity).
/// </summary>
public sealed class QuadrantSwap : IAugmentation
{
    /// <inheritdoc />
    public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng) => Swap(image, shape);

    /// <summary>Swaps the quadrants in place (no randomness).</summary>
    public static void Swap(Span<float> image, ImageShape shape)
    {
        if (image.Length != shape.Size) throw new ArgumentException($"image has {image.Length} values, shape needs {shape.Size}");
        int h = shape.Height, w = shape.Width, h2 = h / 2, w2 = w / 2;
        for (int c = 0; c < shape.Channels; c++)
        {
            var p = image.Slice(c * shape.Plane, shape.Plane);
            for (int y = 0; y < h2; y++)
            {
                var tr = p.Slice(y * w + (w - w2), w2);
                var bl = p.Slice((h - h2 + y) * w, w2);
                for (int x = 0; x < w2; x++) (tr[x], bl[x]) = (bl[x], tr[x]);
            }
        }
    }
}
