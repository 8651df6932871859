using System.Numerics.Tensors;
using Sprout.Tensors;

namespace Sprout.Autograd;

public static partial class Ops
{
    /// <summary>Sum of all elements, shape [1].</summary>
    public static Tensor Sum(Tensor x)
    {
        var y = NewOut([1]);
        y.Span[0] = TensorPrimitives.Sum(x.Span);
        if (Graph.Needs(x))
            Graph.Record(y, "Sum", [x], () =>
            {
                float g = y.Grad!.Span[0];
                var gb = x.GradBuffer(out bool fresh);
                if (fresh) gb.Span.Fill(g);
                else TensorPrimitives.Add(gb.Span, g, gb.Span);
            });
        return y;
    }

    /// <summary>Mean of all elements (composite: Sum · 1/n).</summary>
    public static Tensor Mean(Tensor x) => MulScalar(Sum(x), 1f / x.Length);

    // Views a shape as [outer, axisLen, inner] around one axis.
    private static (int Outer, int Len, int Inner) AxisSplit(ReadOnlySpan<int> shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, shape[axis], inner);
    }

    private static int[] ReducedShape(ReadOnlySpan<int> shape, int axis, bool keepDim)
    {
        if (keepDim)
        {
            var s = shape.ToArray();
            s[axis] = 1;
            return s;
        }
        if (shape.Length == 1) return [1];
        var r = new int[shape.Length - 1];
        for (int i = 0, j = 0; i < shape.Length; i++) if (i != axis) r[j++] = shape[i];
        return r;
    }

    /// <summary>Sum along one axis (negative axes count from the end).</summary>
    public static Tensor Sum(Tensor x, int axis, bool keepDim = false)
    {
        int ax = Tensor.NormalizeAxis(axis, x.Rank);
        var (outer, len, inner) = AxisSplit(x.Shape, ax);
        var y = NewOut(ReducedShape(x.Shape, ax, keepDim));
        var xs = x.Span;
        var ys = y.Span;
        // y[o, i] = sum_a x[o, a, i]
        for (int o = 0; o < outer; o++)
        {
            var dst = ys.Slice(o * inner, inner);
            xs.Slice(o * len * inner, inner).CopyTo(dst);
            for (int a = 1; a < len; a++) TensorPrimitives.Add(dst, xs.Slice((o * len + a) * inner, inner), dst);
        }
        if (Graph.Needs(x))
            Graph.Record(y, "SumAxis", [x], () =>
            {
                var g = y.Grad!.Span;
                var gb = x.GradBuffer(out bool fresh);
                var gs = gb.Span;
                for (int o = 0; o < outer; o++)
                {
                    var src = g.Slice(o * inner, inner);
                    for (int a = 0; a < len; a++)
                    {
                        var d = gs.Slice((o * len + a) * inner, inner);
                        if (fresh) src.CopyTo(d);
                        else TensorPrimitives.Add(d, src, d);
                    }
                }
            });
        return y;
    }

    /// <summary>Mean along one axis (composite).</summary>
    public static Tensor Mean(Tensor x, int axis, bool keepDim = false) =>
        MulScalar(Sum(x, axis, keepDim), 1f / x.Dim(axis));

    /// <summary>Maximum of all elements, shape [1]; the gradient goes to the first maximal element.</summary>
    public static Tensor Max(Tensor x)
    {
        var y = NewOut([1]);
        int idx = TensorPrimitives.IndexOfMax(x.Span);
        y.Span[0] = x.Span[idx];
        if (Graph.Needs(x))
            Graph.Record(y, "Max", [x], () =>
            {
                var gb = x.GradBuffer(out bool fresh);
                if (fresh) gb.Span.Clear();
                gb.Span[idx] += y.Grad!.Span[0];
            });
        return y;
    }

    /// <summary>Maximum along one axis; the gradient goes to the first maximal element of each slice.</summary>
    public static Tensor Max(Tensor x, int axis, bool keepDim = false)
    {
        int ax = Tensor.NormalizeAxis(axis, x.Rank);
        var (outer, len, inner) = AxisSplit(x.Shape, ax);
        var y = NewOut(ReducedShape(x.Shape, ax, keepDim));
        var arg = new int[outer * inner];
        var xs = x.Span;
        var ys = y.Span;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                float bv = xs[o * len * inner + i];
                for (int a = 1; a < len; a++)
                {
                    float v = xs[(o * len + a) * inner + i];
                    if (v > bv || (float.IsNaN(v) && !float.IsNaN(bv))) { bv = v; best = a; }
                }
                ys[o * inner + i] = bv;
                arg[o * inner + i] = best;
            }
        if (Graph.Needs(x))
            Graph.Record(y, "MaxAxis", [x], () =>
            {
                var g = y.Grad!.Span;
                var gb = x.GradBuffer(out bool fresh);
                var gs = gb.Span;
                if (fresh) gs.Clear();
                for (int o = 0; o < outer; o++)
                    for (int i = 0; i < inner; i++)
                        gs[(o * len + arg[o * inner + i]) * inner + i] += g[o * inner + i];
            });
        return y;
    }
}
