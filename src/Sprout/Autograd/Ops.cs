using System.Numerics.Tensors;
using Sprout.Tensors;

namespace Sprout.Autograd;

/// <summary>
/// Differentiable operations. Each primitive computes its forward result and, when an input requires grad,
/// records its backward rule right there; composite ops are built from primitives and need no rule of their own.
/// Files: Ops.Elementwise, Ops.Reduce, Ops.MatMul, Ops.Activations, Ops.Loss, Ops.Shape.
/// </summary>
public static partial class Ops
{
    /// <summary>
    /// Adds <paramref name="g"/> into <paramref name="t"/>'s gradient (copying when the gradient is empty).
    /// </summary>
    internal static void AccumulateGrad(Tensor t, ReadOnlySpan<float> g)
    {
        var gb = t.GradBuffer(out bool fresh);
        if (fresh) g.CopyTo(gb.Span);
        else TensorPrimitives.Add(gb.Span, g, gb.Span);
    }

    /// <summary>An output tensor of the given shape (the shape array is owned by the result).</summary>
    internal static Tensor NewOut(int[] shape) => Tensor.EmptyOwned(shape);

    internal static void CheckSame(Tensor a, Tensor b, string op)
    {
        if (!Tensor.SameShape(a.Shape, b.Shape))
            throw new ArgumentException($"{op}: shapes {Tensor.FormatShape(a.Shape)} and {Tensor.FormatShape(b.Shape)} differ");
    }
}
