using Sprout.Experiments;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Classification data held as flat float features ([count, features] row-major) and labels, with reusable batch
/// buffers. Extenders and distributors draw their mini-batches from it.
/// </summary>
public sealed class GrowthData
{
    /// <summary>
    /// Wraps arrays (not copied). <paramref name="sampleShape"/> (e.g. [C, H, W] for a conv net) shapes each batch as
    /// [rows, ..sampleShape]; without it batches are [rows, features].
    /// </summary>
    public GrowthData(float[] x, int[] y, int features, int[]? sampleShape = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (features <= 0 || x.Length != (long)y.Length * features)
            throw new ArgumentException($"{x.Length} values are not {y.Length} rows of {features} features");
        X = x;
        Y = y;
        Features = features;
        SampleShape = sampleShape ?? [features];
        if (Tensor.Product(SampleShape) != features) throw new ArgumentException("sample shape does not hold the features");
        Trainer = new ArrayTrainer(x, y, features, SampleShape);
    }

    /// <summary>The same samples (arrays shared) with batches shaped [rows, ..<paramref name="sampleShape"/>].</summary>
    public GrowthData WithShape(int[] sampleShape) => new(X, Y, Features, sampleShape);

    /// <summary>Shape of one sample (batches are [rows, ..SampleShape]).</summary>
    public int[] SampleShape { get; }

    private int[] BatchShape(int rows) => [rows, .. SampleShape];

    /// <summary>Features, row-major.</summary>
    public float[] X { get; }

    /// <summary>Labels.</summary>
    public int[] Y { get; }

    /// <summary>Features per sample.</summary>
    public int Features { get; }

    /// <summary>Samples.</summary>
    public int Count => Y.Length;

    /// <summary>A trainer over the same arrays.</summary>
    public ArrayTrainer Trainer { get; }

    /// <summary>
    /// Gathers samples order[start..start+rows) into a reusable batch (valid until the next call with the same size).
    /// </summary>
    public (Tensor X, int[] Y) Batch(ReadOnlySpan<int> order, int start, int rows) => Trainer.Gather(order, start, rows);

    /// <summary>The first <paramref name="rows"/> samples (or all) as a new batch (its own arrays, not a reused buffer).</summary>
    public (Tensor X, int[] Y) Head(int rows)
    {
        rows = Math.Min(rows, Count);
        return (new Tensor(X.AsSpan(0, rows * Features).ToArray(), BatchShape(rows)), Y.AsSpan(0, rows).ToArray());
    }

    /// <summary>0, 1, …, n−1.</summary>
    public static int[] Identity(int n)
    {
        var a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    /// <summary>A copy of the samples at <paramref name="indices"/>.</summary>
    public GrowthData Subset(ReadOnlySpan<int> indices)
    {
        var x = new float[indices.Length * Features];
        var y = new int[indices.Length];
        for (int r = 0; r < indices.Length; r++)
        {
            X.AsSpan(indices[r] * Features, Features).CopyTo(x.AsSpan(r * Features, Features));
            y[r] = Y[indices[r]];
        }
        return new GrowthData(x, y, Features, SampleShape);
    }
}
