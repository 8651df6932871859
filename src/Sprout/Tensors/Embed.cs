namespace Sprout.Tensors;

/// <summary>Copying a smaller array into the leading corner of a larger one (how grown parameters keep old entries).</summary>
public static class Embed
{
    /// <summary>
    /// Whether <paramref name="newShape"/> only grows <paramref name="oldShape"/> (same rank, no axis shrinks).
    /// </summary>
    public static bool IsGrowth(ReadOnlySpan<int> oldShape, ReadOnlySpan<int> newShape)
    {
        if (oldShape.Length != newShape.Length) return false;
        for (int i = 0; i < oldShape.Length; i++) if (newShape[i] < oldShape[i]) return false;
        return true;
    }

    /// <summary>
    /// dst = zeros(newShape) with src placed at index [0..old) on every axis: entry (i,j,…) keeps its multi-index.
    /// </summary>
    public static void Corner(ReadOnlySpan<float> src, ReadOnlySpan<int> oldShape, Span<float> dst, ReadOnlySpan<int> newShape)
    {
        if (!IsGrowth(oldShape, newShape))
            throw new ArgumentException($"{Tensor.FormatShape(newShape)} is not a growth of {Tensor.FormatShape(oldShape)}");
        dst.Clear();
        int r = oldShape.Length;
        Span<int> o = stackalloc int[4] { 1, 1, 1, 1 };
        Span<int> n = stackalloc int[4] { 1, 1, 1, 1 };
        for (int i = 0; i < r; i++) { o[4 - r + i] = oldShape[i]; n[4 - r + i] = newShape[i]; }
        int si = 0;
        for (int a = 0; a < o[0]; a++)
            for (int b = 0; b < o[1]; b++)
                for (int c = 0; c < o[2]; c++)
                {
                    int di = ((a * n[1] + b) * n[2] + c) * n[3];
                    src.Slice(si, o[3]).CopyTo(dst.Slice(di, o[3]));
                    si += o[3];
                }
    }

    /// <summary>A new array of <paramref name="newShape"/> holding <paramref name="src"/> in its leading corner.</summary>
    public static float[] Corner(ReadOnlySpan<float> src, ReadOnlySpan<int> oldShape, ReadOnlySpan<int> newShape)
    {
        var dst = new float[Tensor.Product(newShape)];
        Corner(src, oldShape, dst, newShape);
        return dst;
    }
}
