using Sprout.Experiments;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// Classification data held as flat features ([count, features] row-major) and labels, with reusable batch
/// buffers. Extenders and distributors draw their mini-batches from it. Features are stored as floats, or compactly
/// as bytes with a per-channel affine map (image pixels: a quarter of the memory, converted as batches are gathered).
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
        _x = x;
        Y = y;
        Features = features;
        SampleShape = sampleShape ?? [features];
        if (Tensor.Product(SampleShape) != features) throw new ArgumentException("sample shape does not hold the features");
        Trainer = new ArrayTrainer(x, y, features, SampleShape);
    }

    /// <summary>
    /// Wraps byte features (not copied): feature k of channel c = k / (features / C) is
    /// byte · <paramref name="scale"/>[c] + <paramref name="shift"/>[c], C = scale.Length.
    /// </summary>
    public GrowthData(byte[] pixels, int[] y, int features, float[] scale, float[] shift, int[]? sampleShape = null)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(y);
        if (features <= 0 || pixels.Length != (long)y.Length * features)
            throw new ArgumentException($"{pixels.Length} values are not {y.Length} rows of {features} features");
        Pixels = pixels;
        Scale = scale;
        Shift = shift;
        Y = y;
        Features = features;
        SampleShape = sampleShape ?? [features];
        if (Tensor.Product(SampleShape) != features) throw new ArgumentException("sample shape does not hold the features");
        Trainer = new ArrayTrainer(pixels, y, features, scale, shift, SampleShape);
    }

    /// <summary>The same samples (arrays shared) with batches shaped [rows, ..<paramref name="sampleShape"/>].</summary>
    public GrowthData WithShape(int[] sampleShape) =>
        Pixels is not null ? new(Pixels, Y, Features, Scale!, Shift!, sampleShape) : new(_x!, Y, Features, sampleShape);

    /// <summary>Byte storage (null for float data).</summary>
    public byte[]? Pixels { get; }

    /// <summary>Per-channel scale of byte storage.</summary>
    public float[]? Scale { get; }

    /// <summary>Per-channel shift of byte storage.</summary>
    public float[]? Shift { get; }

    /// <summary>Shape of one sample (batches are [rows, ..SampleShape]).</summary>
    public int[] SampleShape { get; }

    private int[] BatchShape(int rows) => [rows, .. SampleShape];

    private float[]? _x;

    /// <summary>Features as floats, row-major (for byte storage: converted once, on first use, and kept).</summary>
    public float[] X
    {
        get
        {
            if (_x is null)
            {
                var x = new float[(long)Count * Features];
                Trainer.CopyRows(0, Count, x);
                _x = x;
            }
            return _x;
        }
    }

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
        var x = new float[rows * Features];
        Trainer.CopyRows(0, rows, x);   // byte storage converts only these rows, without materialising X
        return (new Tensor(x, BatchShape(rows)), Y.AsSpan(0, rows).ToArray());
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
        var y = new int[indices.Length];
        for (int r = 0; r < indices.Length; r++) y[r] = Y[indices[r]];
        if (Pixels is not null)
        {
            var px = new byte[indices.Length * Features];
            for (int r = 0; r < indices.Length; r++)
                Pixels.AsSpan(indices[r] * Features, Features).CopyTo(px.AsSpan(r * Features, Features));
            return new GrowthData(px, y, Features, Scale!, Shift!, SampleShape);
        }
        var x = new float[indices.Length * Features];
        for (int r = 0; r < indices.Length; r++)
            X.AsSpan(indices[r] * Features, Features).CopyTo(x.AsSpan(r * Features, Features));
        return new GrowthData(x, y, Features, SampleShape);
    }
}
