namespace Sprout.Diagnostics;

/// <summary>Pairwise cosine similarities of a set of neurons' incoming weight vectors.</summary>
/// <param name="Pairs">Number of pairs (i &lt; j).</param>
/// <param name="Mean">Mean cosine (NaN with no pairs).</param>
/// <param name="Max">Largest cosine (NaN with no pairs).</param>
/// <param name="Histogram">Counts over equal bins of [−1, 1].</param>
public sealed record CosineSummary(int Pairs, double Mean, double Max, int[] Histogram)
{
    /// <summary>Mean |cosine| over the pairs (paper 002's μ_sim; NaN with no pairs).</summary>
    public double MeanAbs { get; init; } = double.NaN;
}

/// <summary>Cosine-similarity diagnostics of neurons' incoming weights (methods §8).</summary>
public static class WeightSimilarity
{
    /// <summary>
    /// Pairwise cosines among neurons [first, first+count) of a layer's weight whose axis 0 indexes neurons (Linear
    /// [out, in], Conv2d [Cout, Cin, k, k]); each neuron's vector is its slice along the other axes (bias excluded).
    /// </summary>
    public static CosineSummary Cosines(Tensor weight, int first, int count, int bins = 20)
    {
        ArgumentNullException.ThrowIfNull(weight);
        int n = weight.Dim(0);
        if (first < 0 || count < 0 || first + count > n) throw new ArgumentOutOfRangeException(nameof(count), $"neurons [{first}, {first + count}) outside 0..{n}");
        int f = weight.Length / Math.Max(1, n);
        var w = weight.Span;
        var rows = new float[count][];
        for (int j = 0; j < count; j++) rows[j] = w.Slice((first + j) * f, f).ToArray();
        return Cosines(rows, bins);
    }

    /// <summary>Pairwise cosines among the given vectors.</summary>
    public static CosineSummary Cosines(IReadOnlyList<float[]> rows, int bins = 20)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (bins < 1) throw new ArgumentOutOfRangeException(nameof(bins));
        var hist = new int[bins];
        double sum = 0, sumAbs = 0, max = double.NegativeInfinity;
        int pairs = 0;
        var norms = rows.Select(r => (double)System.Numerics.Tensors.TensorPrimitives.Norm(r)).ToArray();
        for (int i = 0; i < rows.Count; i++)
            for (int j = i + 1; j < rows.Count; j++)
            {
                double den = norms[i] * norms[j];
                double c = den > 0 ? System.Numerics.Tensors.TensorPrimitives.Dot(rows[i], rows[j]) / den : 0;
                c = Math.Clamp(c, -1, 1);
                sum += c;
                sumAbs += Math.Abs(c);
                max = Math.Max(max, c);
                pairs++;
                hist[Math.Min(bins - 1, (int)((c + 1) / 2 * bins))]++;
            }
        return new CosineSummary(pairs, pairs > 0 ? sum / pairs : double.NaN, pairs > 0 ? max : double.NaN, hist)
        {
            MeanAbs = pairs > 0 ? sumAbs / pairs : double.NaN,
        };
    }
}
