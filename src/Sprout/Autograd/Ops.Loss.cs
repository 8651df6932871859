using System.Numerics.Tensors;
using Sprout.Tensors;

namespace Sprout.Autograd;

/// <summary>How a loss reduces over the batch.</summary>
public enum Reduction
{
    /// <summary>Average over samples.</summary>
    Mean,
    /// <summary>Sum over samples.</summary>
    Sum,
}

public static partial class Ops
{
    /// <summary>log-softmax along the last axis (max-shifted, numerically stable).</summary>
    public static Tensor LogSoftmax(Tensor x)
    {
        int c = x.Dim(-1);
        int rows = x.Length / Math.Max(1, c);
        var y = NewOut(x.ShapeArray());
        var xs = x.Span;
        var ys = y.Span;
        for (int r = 0; r < rows; r++)
        {
            var xr = xs.Slice(r * c, c);
            var yr = ys.Slice(r * c, c);
            float max = TensorPrimitives.Max(xr);
            TensorPrimitives.Subtract(xr, max, yr);
            double s = 0;
            for (int j = 0; j < c; j++) s += Math.Exp(yr[j]);
            TensorPrimitives.Subtract(yr, (float)Math.Log(s), yr);
        }
        if (Graph.Needs(x))
            Graph.Record(y, "LogSoftmax", [x], () =>
            {
                // dx = g - softmax · Σ g
                var g = y.Grad!.Span;
                var ys2 = y.Span;
                var gb = x.GradBuffer(out bool fresh);
                var d = gb.Span;
                for (int r = 0; r < rows; r++)
                {
                    var gr = g.Slice(r * c, c);
                    var yr = ys2.Slice(r * c, c);
                    var dr = d.Slice(r * c, c);
                    float sg = TensorPrimitives.Sum(gr);
                    for (int j = 0; j < c; j++)
                    {
                        float v = gr[j] - MathF.Exp(yr[j]) * sg;
                        dr[j] = fresh ? v : dr[j] + v;
                    }
                }
            });
        return y;
    }

    /// <summary>Softmax along the last axis (composite: exp of log-softmax).</summary>
    public static Tensor Softmax(Tensor x) => Exp(LogSoftmax(x));

    /// <summary>
    /// Cross-entropy from logits [n, classes] and integer labels (the first n entries of <paramref name="labels"/>),
    /// fused with log-softmax: stable for any logit scale. Returns shape [1]. Throws on a label outside the classes.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, ReadOnlySpan<int> labels, Reduction reduction = Reduction.Mean)
    {
        if (logits.Rank != 2) throw new ArgumentException($"CrossEntropy needs logits [n, classes], got {Tensor.FormatShape(logits.Shape)}");
        int n = logits.Dim(0), c = logits.Dim(1);
        if (labels.Length < n) throw new ArgumentException($"CrossEntropy: {labels.Length} labels for {n} samples");
        var xs = logits.Span;
        bool needs = Graph.Needs(logits);
        // probs − onehot, kept for backward (computed here so labels need not outlive the call).
        // Whole-block passes: one vectorized Exp over [n, c] instead of small calls per row.
        var probs = NewOut([n, c]);
        var e = probs.Span;
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            int label = labels[i];
            if ((uint)label >= (uint)c) throw new ArgumentException($"CrossEntropy: label {label} outside 0..{c - 1}");
            var row = xs.Slice(i * c, c);
            var er = e.Slice(i * c, c);
            float max = row[0];
            for (int j = 1; j < c; j++) if (row[j] > max) max = row[j];
            for (int j = 0; j < c; j++) er[j] = row[j] - max;
            total += max - row[label];
        }
        TensorPrimitives.Exp(e, e);
        for (int i = 0; i < n; i++)
        {
            var er = e.Slice(i * c, c);
            float s = 0f;
            for (int j = 0; j < c; j++) s += er[j];
            total += Math.Log(s);
            if (needs)
            {
                float inv = 1f / s;
                for (int j = 0; j < c; j++) er[j] *= inv;
                er[labels[i]] -= 1f;
            }
        }
        Tensor? delta = needs ? probs : null;
        float scale = reduction == Reduction.Mean ? 1f / Math.Max(1, n) : 1f;
        var y = NewOut([1]);
        y.Span[0] = (float)(total * scale);
        if (needs)
            Graph.Record(y, "CrossEntropy", [logits], () =>
            {
                float g = y.Grad!.Span[0] * scale;
                var gb = logits.GradBuffer(out bool fresh);
                if (fresh) TensorPrimitives.Multiply(delta!.Span, g, gb.Span);
                else TensorPrimitives.MultiplyAdd(delta!.Span, g, gb.Span, gb.Span);
            });
        return y;
    }

    /// <summary>Mean squared error (composite): mean((pred − target)²), or the sum.</summary>
    public static Tensor Mse(Tensor pred, Tensor target, Reduction reduction = Reduction.Mean)
    {
        CheckSame(pred, target, "Mse");
        var d = Sub(pred, target);
        var sq = Mul(d, d);
        return reduction == Reduction.Mean ? Mean(sq) : Sum(sq);
    }
}
