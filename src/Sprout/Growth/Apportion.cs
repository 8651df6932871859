namespace Sprout.Growth;

/// <summary>Turning shares into whole neuron counts.</summary>
public static class Apportion
{
    /// <summary>
    /// Largest-remainder (Hamilton) rounding: each part gets ⌊total·wₖ/Σw⌋, the leftover units go to the largest
    /// fractional parts (ties: lower index first). The result always sums to <paramref name="total"/>. All-zero
    /// weights are treated as equal.
    /// </summary>
    public static int[] LargestRemainder(IReadOnlyList<double> weights, int total)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (total < 0) throw new ArgumentOutOfRangeException(nameof(total), "total must be ≥ 0");
        int k = weights.Count;
        if (k == 0) throw new ArgumentException("no parts to apportion to");
        double sum = 0;
        foreach (double w in weights)
        {
            if (!(w >= 0) || double.IsInfinity(w)) throw new ArgumentException($"weights must be finite and ≥ 0, got {w}");
            sum += w;
        }
        var counts = new int[k];
        var frac = new double[k];
        int given = 0;
        for (int i = 0; i < k; i++)
        {
            double q = sum > 0 ? total * weights[i] / sum : (double)total / k;
            counts[i] = (int)Math.Floor(q);
            frac[i] = q - counts[i];
            given += counts[i];
        }
        var order = Enumerable.Range(0, k).OrderByDescending(i => frac[i]).ThenBy(i => i).ToArray();
        for (int t = 0; given < total; t++, given++) counts[order[t % k]]++;
        return counts;
    }
}
