using Sprout.Nn;

namespace Sprout.Diagnostics;

/// <summary>Approximate weight sharing of a locally connected layer at one Chebyshev radius.</summary>
/// <param name="Radius">Chebyshev distance between the compared positions.</param>
/// <param name="Euclidean">Mean Euclidean distance between the weight blocks of the position pairs, in units of the whole
/// weight tensor's Frobenius norm (so layers of different size and scale compare).</param>
/// <param name="Cosine">Mean cosine distance (1 − cos) between the same blocks.</param>
/// <param name="Pairs">Position pairs averaged.</param>
public sealed record FilterDistanceStats(int Radius, double Euclidean, double Cosine, int Pairs);

/// <summary>
/// Paper 003's measure of approximate weight sharing (§5.4, Figures 5, B.6, B.7): the filters a locally connected layer
/// applies at two output positions — the block of its weight [P, K, F] at each position — compared at a Chebyshev radius r.
/// Every position (i, j) at least r from the border (i in [r, OH − r), j in [r, OW − r)) is paired with each of the 8r
/// positions exactly r away (max(|di|, |dj|) = r); over all those pairs, the mean Euclidean distance of the blocks divided
/// by the Frobenius norm of the whole weight, and the mean cosine distance. A layer that shares its weights exactly
/// (a convolution) measures 0.
/// </summary>
public static class FilterDistance
{
    /// <summary>The distances of a locally connected layer's weight.</summary>
    public static FilterDistanceStats Measure(LocallyConnected2d layer, int radius)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var c = layer.Config;
        return Measure(layer.Weight.Span, c.OutHeight, c.OutWidth, radius);
    }

    /// <summary>
    /// The distances of a weight laid out [OH·OW positions (row-major), block] (any block length: K·F for a locally
    /// connected layer). NaN distances and 0 pairs when no position is r from every border.
    /// </summary>
    public static FilterDistanceStats Measure(ReadOnlySpan<float> weight, int outHeight, int outWidth, int radius)
    {
        if (outHeight < 1 || outWidth < 1) throw new ArgumentException($"positions must be ≥ 1×1, got {outHeight}×{outWidth}");
        if (radius < 1) throw new ArgumentException($"the radius must be ≥ 1, got {radius}");
        int positions = outHeight * outWidth;
        if (weight.Length == 0 || weight.Length % positions != 0) throw new ArgumentException($"{weight.Length} weights are not {positions} equal position blocks");
        int block = weight.Length / positions;
        double total = 0;
        foreach (float v in weight) total += (double)v * v;
        double norm = Math.Sqrt(total);
        var sq = new double[positions];
        for (int p = 0; p < positions; p++)
        {
            double s = 0;
            foreach (float v in weight.Slice(p * block, block)) s += (double)v * v;
            sq[p] = s;
        }
        double euclid = 0, cosine = 0;
        int pairs = 0;
        for (int i = radius; i < outHeight - radius; i++)
            for (int j = radius; j < outWidth - radius; j++)
            {
                var a = weight.Slice((i * outWidth + j) * block, block);
                for (int di = -radius; di <= radius; di++)
                    for (int dj = -radius; dj <= radius; dj++)
                    {
                        if (Math.Max(Math.Abs(di), Math.Abs(dj)) != radius) continue;
                        int q = (i + di) * outWidth + j + dj;
                        var b = weight.Slice(q * block, block);
                        double dot = 0, diff = 0;
                        for (int k = 0; k < block; k++)
                        {
                            double x = a[k], y = b[k];
                            dot += x * y;
                            diff += (x - y) * (x - y);
                        }
                        euclid += norm > 0 ? Math.Sqrt(diff) / norm : 0;
                        double den = Math.Sqrt(sq[i * outWidth + j] * sq[q]);
                        cosine += den > 0 ? 1 - dot / den : 1;
                        pairs++;
                    }
            }
        return pairs == 0
            ? new FilterDistanceStats(radius, double.NaN, double.NaN, 0)
            : new FilterDistanceStats(radius, euclid / pairs, cosine / pairs, pairs);
    }
}
