using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>
/// One mini-batch from a <see cref="DataLoader"/>. Its buffers are recycled: the batch is valid until the
/// enumerator's next <c>MoveNext</c> (which releases it automatically), or until <see cref="Dispose"/> releases it
/// earlier. Do not keep a reference to <see cref="X"/> or <see cref="Y"/> past that point; copy what you need.
/// </summary>
public sealed class Batch : IDisposable
{
    private readonly DataLoader _owner;
    internal readonly float[] XData;
    internal readonly int[] Indices;
    internal int Lease;
    internal bool Out;      // handed to the consumer (or queued for it) and not yet released
    internal readonly bool IsTail;

    internal Batch(DataLoader owner, int capacity, int sampleSize, int[] xShapeTail, bool isTail)
    {
        _owner = owner;
        IsTail = isTail;
        XData = new float[capacity * sampleSize];
        Y = new int[capacity];
        Indices = new int[capacity];
        var shape = new int[1 + xShapeTail.Length];
        shape[0] = capacity;
        xShapeTail.CopyTo(shape, 1);
        X = new Tensor(XData, shape);
    }

    /// <summary>Inputs: [B, C, H, W], or [B, C·H·W] when the loader flattens. B equals <see cref="Count"/>.</summary>
    public Tensor X { get; }

    /// <summary>Labels; the first <see cref="Count"/> entries are valid (the array length is ≥ Count).</summary>
    public int[] Y { get; }

    /// <summary>Number of samples in this batch.</summary>
    public int Count { get; internal set; }

    /// <summary>Position of this batch in its epoch (0-based).</summary>
    public int Index { get; internal set; }

    /// <summary>The epoch this batch belongs to.</summary>
    public int Epoch { get; internal set; }

    /// <summary>Indices into the data set of the samples in this batch, in batch order.</summary>
    public ReadOnlySpan<int> SampleIndices => Indices.AsSpan(0, Count);

    /// <summary>Releases the batch's buffers back to the loader early (optional; idempotent until the next MoveNext).</summary>
    public void Dispose() => _owner.Release(this, Lease);
}
