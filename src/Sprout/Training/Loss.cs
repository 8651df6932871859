using Sprout.Autograd;

namespace Sprout.Training;

/// <summary>
/// The training objective: a scalar tensor from the model's output and the batch (its labels or target). Built-in:
/// <see cref="CrossEntropy"/> (class labels; accuracy = arg-max matches) and <see cref="Mse"/> (target tensor);
/// <see cref="Custom"/> wraps any function of (output, batch).
/// </summary>
public abstract class Loss
{
    /// <summary>Short name for messages and reports.</summary>
    public abstract string Name { get; }

    /// <summary>Whether accuracy (arg-max equals the label) means something for this loss.</summary>
    public virtual bool HasAccuracy => false;

    /// <summary>The loss of a batch: a one-element tensor recorded for backward when gradients are on.</summary>
    public abstract Tensor Compute(Tensor output, Batch batch);

    /// <summary>Rows whose prediction is right (0 when <see cref="HasAccuracy"/> is false).</summary>
    public virtual int CountCorrect(Tensor output, Batch batch) => 0;

    /// <summary>Softmax cross-entropy of logits [n, classes] against the batch's class labels (mean over rows).</summary>
    public static Loss CrossEntropy { get; } = new CrossEntropyLoss();

    /// <summary>Mean squared error of the output against the batch's target tensor (same shape).</summary>
    public static Loss Mse { get; } = new MseLoss();

    /// <summary>
    /// The loss a data set's samples ask for: <see cref="Mse"/> when it holds a target tensor (regression,
    /// reconstruction), else <see cref="CrossEntropy"/> against its class labels.
    /// </summary>
    public static Loss For(InMemoryDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data.HasTargets ? Mse : CrossEntropy;
    }

    /// <summary>Any function of (output, batch) returning a one-element tensor.</summary>
    public static Loss Custom(string name, Func<Tensor, Batch, Tensor> compute, Func<Tensor, Batch, int>? countCorrect = null) =>
        new CustomLoss(name, compute, countCorrect);

    /// <summary>Number of rows of <paramref name="logits"/> [n, classes] whose arg-max equals the label.</summary>
    public static int CountArgMaxMatches(Tensor logits, ReadOnlySpan<int> labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        int n = logits.Dim(0), c = logits.Dim(1);
        var s = logits.Span;
        int correct = 0;
        for (int i = 0; i < n; i++)
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(s.Slice(i * c, c)) == labels[i]) correct++;
        return correct;
    }

    /// <inheritdoc/>
    public override string ToString() => Name;

    private sealed class CrossEntropyLoss : Loss
    {
        public override string Name => "cross-entropy";
        public override bool HasAccuracy => true;
        public override Tensor Compute(Tensor output, Batch batch) => Ops.CrossEntropy(output, batch.Labels);
        public override int CountCorrect(Tensor output, Batch batch) => CountArgMaxMatches(output, batch.Labels);
    }

    private sealed class MseLoss : Loss
    {
        public override string Name => "mse";

        public override Tensor Compute(Tensor output, Batch batch)
        {
            var target = batch.Target;
            // a flat output against an image-shaped target (or the reverse) compares the same values row by row
            if (!Tensor.SameShape(output.Shape, target.Shape) && output.Length == target.Length)
                target = target.Reshape(output.ShapeArray());
            return Ops.Mse(output, target);
        }
    }

    private sealed class CustomLoss(string name, Func<Tensor, Batch, Tensor> compute, Func<Tensor, Batch, int>? countCorrect) : Loss
    {
        private readonly Func<Tensor, Batch, Tensor> _compute = compute ?? throw new ArgumentNullException(nameof(compute));
        public override string Name => name;
        public override bool HasAccuracy => countCorrect is not null;
        public override Tensor Compute(Tensor output, Batch batch) => _compute(output, batch);
        public override int CountCorrect(Tensor output, Batch batch) => countCorrect?.Invoke(output, batch) ?? 0;
    }
}
