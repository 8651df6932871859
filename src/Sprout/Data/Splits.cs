using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>One fold of a k-fold split: sample indices for training and for validation (both ascending).</summary>
/// <param name="Train">Training indices.</param>
/// <param name="Validation">Validation (held-out) indices.</param>
public sealed record Fold(int[] Train, int[] Validation);

/// <summary>Seeded train/validation splits and k-fold cross-validation over sample indices.</summary>
public static class Splits
{
    /// <summary>
    /// Stratified split: in every class, a seeded random ⌊n_c·fraction + ½⌋ of its samples go to validation and the
    /// rest to training, so both parts keep the class proportions. Returned indices are ascending.
    /// </summary>
    public static Fold Stratified(ReadOnlySpan<int> labels, int classes, double validationFraction, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (!(validationFraction >= 0 && validationFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(validationFraction));
        var byClass = new List<int>[classes];
        for (int c = 0; c < classes; c++) byClass[c] = new List<int>();
        for (int i = 0; i < labels.Length; i++)
        {
            int y = labels[i];
            if ((uint)y >= (uint)classes) throw new ArgumentException($"label {y} at {i} outside 0..{classes - 1}");
            byClass[y].Add(i);
        }
        var train = new List<int>(labels.Length);
        var val = new List<int>();
        for (int c = 0; c < classes; c++)
        {
            var idx = byClass[c].ToArray();
            rng.Shuffle(idx.AsSpan());
            int nv = (int)Math.Floor(idx.Length * validationFraction + 0.5);
            val.AddRange(idx.AsSpan(0, nv));
            train.AddRange(idx.AsSpan(nv));
        }
        var t = train.ToArray();
        var v = val.ToArray();
        Array.Sort(t);
        Array.Sort(v);
        return new Fold(t, v);
    }

    /// <summary>Stratified split of a data set by its labels.</summary>
    public static Fold Stratified(Dataset data, double validationFraction, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(data);
        return Stratified(data.Labels, data.Classes, validationFraction, rng);
    }

    /// <summary>
    /// K-fold split of n samples, like scikit-learn's KFold: the (optionally shuffled) index list is cut into k
    /// contiguous folds, the first n % k folds one sample larger; fold i validates on its part and trains on the rest.
    /// Without shuffling (<paramref name="rng"/> null) fold 0 is indices 0..⌈n/k⌉-1, and so on.
    /// </summary>
    public static Fold[] KFold(int n, int k, Rng? rng = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (k < 2 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"k must be in 2..n (n = {n})");
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        rng?.Shuffle(order.AsSpan());
        var folds = new Fold[k];
        int start = 0;
        for (int f = 0; f < k; f++)
        {
            int size = n / k + (f < n % k ? 1 : 0);
            var val = order.AsSpan(start, size).ToArray();
            var train = new int[n - size];
            order.AsSpan(0, start).CopyTo(train);
            order.AsSpan(start + size).CopyTo(train.AsSpan(start));
            Array.Sort(val);
            Array.Sort(train);
            folds[f] = new Fold(train, val);
            start += size;
        }
        return folds;
    }
}
