using System.Numerics.Tensors;
using Sprout.Kernels;
using Sprout.Tensors;

namespace Sprout.Autograd;

public static partial class Ops
{
    /// <summary>a + b with broadcasting.</summary>
    public static Tensor Add(Tensor a, Tensor b) => BinaryOpWithGrad(BinaryOp.Add, a, b);

    /// <summary>a - b with broadcasting.</summary>
    public static Tensor Sub(Tensor a, Tensor b) => BinaryOpWithGrad(BinaryOp.Sub, a, b);

    /// <summary>a * b (elementwise) with broadcasting.</summary>
    public static Tensor Mul(Tensor a, Tensor b) => BinaryOpWithGrad(BinaryOp.Mul, a, b);

    /// <summary>a / b (elementwise) with broadcasting.</summary>
    public static Tensor Div(Tensor a, Tensor b) => BinaryOpWithGrad(BinaryOp.Div, a, b);

    private static Tensor BinaryOpWithGrad(BinaryOp op, Tensor a, Tensor b)
    {
        var shape = Broadcast.ResultShape(a.Shape, b.Shape);
        var y = NewOut(shape);
        Broadcast.Binary(op, a.Span, a.Shape, b.Span, b.Shape, y.Span, y.Shape);
        if (!Graph.Needs(a, b)) return y;
        Graph.Record(y, op.ToString(), [a, b], () =>
        {
            var g = y.Grad!;
            switch (op)
            {
                case BinaryOp.Add:
                    if (a.RequiresGrad) ReduceGradInto(a, g.Span, g.Shape);
                    if (b.RequiresGrad) ReduceGradInto(b, g.Span, g.Shape);
                    break;
                case BinaryOp.Sub:
                    if (a.RequiresGrad) ReduceGradInto(a, g.Span, g.Shape);
                    if (b.RequiresGrad)
                    {
                        var t = NewOut(g.ShapeArray());
                        TensorPrimitives.Negate(g.Span, t.Span);
                        ReduceGradInto(b, t.Span, t.Shape);
                    }
                    break;
                case BinaryOp.Mul:
                    // d(a*b)/da = b, d(a*b)/db = a
                    if (a.RequiresGrad) ProductGrad(a, g, b);
                    if (b.RequiresGrad) ProductGrad(b, g, a);
                    break;
                default:
                    // d(a/b)/da = 1/b, d(a/b)/db = -a/b² = -y/b
                    if (a.RequiresGrad)
                    {
                        var t = NewOut(g.ShapeArray());
                        Broadcast.Binary(BinaryOp.Div, g.Span, g.Shape, b.Span, b.Shape, t.Span, t.Shape);
                        ReduceGradInto(a, t.Span, t.Shape);
                    }
                    if (b.RequiresGrad)
                    {
                        var t = NewOut(g.ShapeArray());
                        TensorPrimitives.Multiply(g.Span, y.Span, t.Span);
                        Broadcast.Binary(BinaryOp.Div, t.Span, t.Shape, b.Span, b.Shape, t.Span, t.Shape);
                        TensorPrimitives.Negate(t.Span, t.Span);
                        ReduceGradInto(b, t.Span, t.Shape);
                    }
                    break;
            }
        });
        return y;
    }

    // grad[target] += SumTo(g * other)
    private static void ProductGrad(Tensor target, Tensor g, Tensor other)
    {
        var t = NewOut(g.ShapeArray());
        Broadcast.Binary(BinaryOp.Mul, g.Span, g.Shape, other.Span, other.Shape, t.Span, t.Shape);
        ReduceGradInto(target, t.Span, t.Shape);
    }

    // Adds a gradient of the broadcast shape into t's gradient, summing over broadcast axes.
    private static void ReduceGradInto(Tensor t, ReadOnlySpan<float> g, ReadOnlySpan<int> gShape)
    {
        if (Tensor.SameShape(t.Shape, gShape))
        {
            AccumulateGrad(t, g);
            return;
        }
        var gb = t.GradBuffer(out bool fresh);
        Broadcast.SumTo(g, gShape, gb.Span, t.Shape, accumulate: !fresh);
    }

    /// <summary>x + c.</summary>
    public static Tensor AddScalar(Tensor x, float c)
    {
        var y = NewOut(x.ShapeArray());
        TensorPrimitives.Add(x.Span, c, y.Span);
        if (Graph.Needs(x)) Graph.Record(y, "AddScalar", [x], () => AccumulateGrad(x, y.Grad!.Span));
        return y;
    }

    /// <summary>x * c.</summary>
    public static Tensor MulScalar(Tensor x, float c)
    {
        var y = NewOut(x.ShapeArray());
        TensorPrimitives.Multiply(x.Span, c, y.Span);
        if (Graph.Needs(x))
            Graph.Record(y, "MulScalar", [x], () =>
            {
                var gb = x.GradBuffer(out bool fresh);
                if (fresh) TensorPrimitives.Multiply(y.Grad!.Span, c, gb.Span);
                else TensorPrimitives.MultiplyAdd(y.Grad!.Span, c, gb.Span, gb.Span);
            });
        return y;
    }

    /// <summary>-x (composite).</summary>
    public static Tensor Neg(Tensor x) => MulScalar(x, -1f);

    /// <summary>Elementwise e^x.</summary>
    public static Tensor Exp(Tensor x)
    {
        var y = NewOut(x.ShapeArray());
        TensorPrimitives.Exp(x.Span, y.Span);
        if (Graph.Needs(x))
            Graph.Record(y, "Exp", [x], () => GradTimes(x, y.Grad!.Span, y.Span)); // dy/dx = y
        return y;
    }

    /// <summary>Elementwise natural logarithm.</summary>
    public static Tensor Log(Tensor x)
    {
        var y = NewOut(x.ShapeArray());
        TensorPrimitives.Log(x.Span, y.Span);
        if (Graph.Needs(x))
            Graph.Record(y, "Log", [x], () =>
            {
                var t = NewOut(x.ShapeArray());
                TensorPrimitives.Divide(y.Grad!.Span, x.Span, t.Span); // dy/dx = 1/x
                AccumulateGrad(x, t.Span);
            });
        return y;
    }

    /// <summary>Elementwise square root.</summary>
    public static Tensor Sqrt(Tensor x)
    {
        var y = NewOut(x.ShapeArray());
        TensorPrimitives.Sqrt(x.Span, y.Span);
        if (Graph.Needs(x))
            Graph.Record(y, "Sqrt", [x], () =>
            {
                var t = NewOut(x.ShapeArray());
                TensorPrimitives.Divide(y.Grad!.Span, y.Span, t.Span); // dy/dx = 1/(2y)
                TensorPrimitives.Multiply(t.Span, 0.5f, t.Span);
                AccumulateGrad(x, t.Span);
            });
        return y;
    }

    /// <summary>Elementwise x^p for a constant exponent.</summary>
    public static Tensor Pow(Tensor x, float p)
    {
        var y = NewOut(x.ShapeArray());
        TensorPrimitives.Pow(x.Span, p, y.Span);
        if (Graph.Needs(x))
            Graph.Record(y, "Pow", [x], () =>
            {
                var t = NewOut(x.ShapeArray());
                TensorPrimitives.Pow(x.Span, p - 1f, t.Span); // dy/dx = p x^(p-1)
                TensorPrimitives.Multiply(t.Span, p, t.Span);
                TensorPrimitives.Multiply(t.Span, y.Grad!.Span, t.Span);
                AccumulateGrad(x, t.Span);
            });
        return y;
    }

    /// <summary>Elementwise |x| (gradient sign(x), 0 at 0).</summary>
    public static Tensor Abs(Tensor x)
    {
        var y = NewOut(x.ShapeArray());
        TensorPrimitives.Abs(x.Span, y.Span);
        if (Graph.Needs(x))
            Graph.Record(y, "Abs", [x], () =>
            {
                var t = NewOut(x.ShapeArray());
                var g = y.Grad!.Span;
                var xs = x.Span;
                var ts = t.Span;
                for (int i = 0; i < ts.Length; i++) ts[i] = xs[i] > 0 ? g[i] : xs[i] < 0 ? -g[i] : 0f;
                AccumulateGrad(x, ts);
            });
        return y;
    }

    /// <summary>Elementwise max(a, b) of two same-shaped tensors (gradient to a on ties).</summary>
    public static Tensor Maximum(Tensor a, Tensor b)
    {
        CheckSame(a, b, "Maximum");
        var y = NewOut(a.ShapeArray());
        TensorPrimitives.Max(a.Span, b.Span, y.Span);
        if (Graph.Needs(a, b))
            Graph.Record(y, "Maximum", [a, b], () =>
            {
                var g = y.Grad!.Span;
                var asp = a.Span;
                var bsp = b.Span;
                var t = NewOut(a.ShapeArray());
                var ts = t.Span;
                if (a.RequiresGrad)
                {
                    for (int i = 0; i < ts.Length; i++) ts[i] = asp[i] >= bsp[i] ? g[i] : 0f;
                    AccumulateGrad(a, ts);
                }
                if (b.RequiresGrad)
                {
                    for (int i = 0; i < ts.Length; i++) ts[i] = asp[i] >= bsp[i] ? 0f : g[i];
                    AccumulateGrad(b, ts);
                }
            });
        return y;
    }

    // grad[x] += g * d (elementwise)
    private static void GradTimes(Tensor x, ReadOnlySpan<float> g, ReadOnlySpan<float> d)
    {
        var gb = x.GradBuffer(out bool fresh);
        if (fresh) TensorPrimitives.Multiply(g, d, gb.Span);
        else TensorPrimitives.MultiplyAdd(g, d, gb.Span, gb.Span);
    }
}
