namespace Sprout.Training;

/// <summary>
/// One mini-batch: inputs <see cref="X"/> ([rows, ..sample shape]) and class labels and/or a target tensor. A batch
/// gathered by <see cref="InMemoryDataset.Gather"/> is a reused buffer, valid until the next gather of the same size.
/// </summary>
public sealed class Batch
{
    private readonly int[]? _labels;
    private readonly Tensor? _target;

    /// <summary>
    /// Wraps tensors and arrays (not copied). <paramref name="labels"/> holds one class per row;
    /// <paramref name="target"/> is the regression target (its first axis has one entry per row; it may be
    /// <paramref name="x"/> itself, e.g. for an autoencoder).
    /// </summary>
    public Batch(Tensor x, int[]? labels = null, Tensor? target = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        int rows = x.Dim(0);
        if (labels is not null && labels.Length != rows) throw new ArgumentException($"{labels.Length} labels for {rows} rows");
        if (target is not null && target.Dim(0) != rows) throw new ArgumentException($"target has {target.Dim(0)} rows, the inputs {rows}");
        X = x;
        _labels = labels;
        _target = target;
    }

    /// <summary>Inputs, [rows, ..sample shape].</summary>
    public Tensor X { get; }

    /// <summary>Samples in the batch.</summary>
    public int Rows => X.Dim(0);

    /// <summary>Whether the batch carries class labels.</summary>
    public bool HasLabels => _labels is not null;

    /// <summary>Whether the batch carries a target tensor.</summary>
    public bool HasTarget => _target is not null;

    /// <summary>Class label of each row (throws when the data set has none).</summary>
    public int[] Labels => _labels ?? throw new InvalidOperationException("this batch has no class labels (the data set holds none)");

    /// <summary>Target tensor, one row per sample (throws when the data set has none).</summary>
    public Tensor Target => _target ?? throw new InvalidOperationException("this batch has no target tensor (the data set holds none)");
}
