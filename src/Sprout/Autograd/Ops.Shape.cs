using Sprout.Tensors;

namespace Sprout.Autograd;

public static partial class Ops
{
    /// <summary>A view with a new shape (one axis may be −1 to infer it). Storage is shared.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        var sh = (int[])shape.Clone();
        int infer = -1, known = 1;
        for (int i = 0; i < sh.Length; i++)
        {
            if (sh[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException("Reshape: only one axis may be -1");
                infer = i;
            }
            else known *= sh[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || x.Length % known != 0)
                throw new ArgumentException($"Reshape: cannot infer axis for {Tensor.FormatShape(x.Shape)} → {Tensor.FormatShape(shape)}");
            sh[infer] = x.Length / known;
        }
        if (Tensor.Product(sh) != x.Length)
            throw new ArgumentException($"Reshape: {Tensor.FormatShape(x.Shape)} has {x.Length} elements, {Tensor.FormatShape(sh)} needs {Tensor.Product(sh)}");
        var y = x.ViewAs(sh);
        if (Graph.Needs(x)) Graph.Record(y, "Reshape", [x], () => AccumulateGrad(x, y.Grad!.Span));
        return y;
    }

    /// <summary>[n, ...] → [n, rest] (composite).</summary>
    public static Tensor Flatten(Tensor x) => x.Rank == 2 ? x : Reshape(x, x.Dim(0), x.Length / Math.Max(1, x.Dim(0)));

    /// <summary>Reorders axes: output axis i is input axis perm[i]. Copies.</summary>
    public static Tensor Permute(Tensor x, params int[] perm)
    {
        int r = x.Rank;
        if (perm.Length != r) throw new ArgumentException("Permute: permutation rank differs from tensor rank");
        var seen = new bool[r];
        foreach (int p in perm)
        {
            if (p < 0 || p >= r || seen[p]) throw new ArgumentException("Permute: not a permutation");
            seen[p] = true;
        }
        var inShape = x.ShapeArray();
        var outShape = new int[r];
        for (int i = 0; i < r; i++) outShape[i] = inShape[perm[i]];
        var y = NewOut(outShape);
        PermuteCopy(x.Span, inShape, perm, y.Span, false);
        if (Graph.Needs(x))
            Graph.Record(y, "Permute", [x], () =>
            {
                // inverse permutation scatters the gradient back
                var gb = x.GradBuffer(out bool fresh);
                var inv = new int[r];
                for (int i = 0; i < r; i++) inv[perm[i]] = i;
                PermuteCopy(y.Grad!.Span, outShape, inv, gb.Span, !fresh);
            });
        return y;
    }

    // dst = permute(src); src shape `shape`, output axis i = input axis perm[i]
    private static void PermuteCopy(ReadOnlySpan<float> src, int[] shape, int[] perm, Span<float> dst, bool accumulate)
    {
        int r = shape.Length;
        Span<int> inStride = stackalloc int[4];
        Span<int> od = stackalloc int[4];
        Span<int> os = stackalloc int[4];
        int s = 1;
        for (int i = r - 1; i >= 0; i--) { inStride[i] = s; s *= shape[i]; }
        for (int i = 0; i < 4; i++) { od[i] = 1; os[i] = 0; }
        for (int i = 0; i < r; i++) { od[4 - r + i] = shape[perm[i]]; os[4 - r + i] = inStride[perm[i]]; }
        int o = 0;
        for (int a = 0; a < od[0]; a++)
            for (int b = 0; b < od[1]; b++)
                for (int c = 0; c < od[2]; c++)
                {
                    int baseIn = a * os[0] + b * os[1] + c * os[2];
                    for (int d = 0; d < od[3]; d++)
                    {
                        float v = src[baseIn + d * os[3]];
                        dst[o] = accumulate ? dst[o] + v : v;
                        o++;
                    }
                }
    }

    /// <summary>Swaps two axes (composite of Permute); for a matrix, its transpose.</summary>
    public static Tensor Transpose(Tensor x, int axis0 = 0, int axis1 = 1)
    {
        int a0 = Tensor.NormalizeAxis(axis0, x.Rank), a1 = Tensor.NormalizeAxis(axis1, x.Rank);
        var perm = new int[x.Rank];
        for (int i = 0; i < perm.Length; i++) perm[i] = i;
        (perm[a0], perm[a1]) = (perm[a1], perm[a0]);
        return Permute(x, perm);
    }

    /// <summary>Elements [start, start+length) along one axis. Copies.</summary>
    public static Tensor Slice(Tensor x, int axis, int start, int length)
    {
        int ax = Tensor.NormalizeAxis(axis, x.Rank);
        int dim = x.Dim(ax);
        if (start < 0 || length < 0 || start + length > dim)
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice [{start},{start + length}) outside axis {ax} of size {dim}");
        var (outer, _, inner) = AxisSplit(x.Shape, ax);
        var shape = x.ShapeArray();
        shape[ax] = length;
        var y = NewOut(shape);
        var xs = x.Span;
        var ys = y.Span;
        for (int o = 0; o < outer; o++)
            xs.Slice((o * dim + start) * inner, length * inner).CopyTo(ys.Slice(o * length * inner, length * inner));
        if (Graph.Needs(x))
            Graph.Record(y, "Slice", [x], () =>
            {
                var g = y.Grad!.Span;
                var gb = x.GradBuffer(out bool fresh);
                var d = gb.Span;
                if (fresh) d.Clear();
                for (int o = 0; o < outer; o++)
                {
                    var dst = d.Slice((o * dim + start) * inner, length * inner);
                    System.Numerics.Tensors.TensorPrimitives.Add(dst, g.Slice(o * length * inner, length * inner), dst);
                }
            });
        return y;
    }

    /// <summary>Joins tensors along one axis (all other axes must agree). Copies. Growth widens weights this way.</summary>
    public static Tensor Concat(int axis, params Tensor[] parts)
    {
        if (parts.Length == 0) throw new ArgumentException("Concat of nothing");
        var first = parts[0];
        int ax = Tensor.NormalizeAxis(axis, first.Rank);
        int total = 0;
        foreach (var p in parts)
        {
            if (p.Rank != first.Rank) throw new ArgumentException("Concat: ranks differ");
            for (int i = 0; i < p.Rank; i++)
                if (i != ax && p.Dim(i) != first.Dim(i))
                    throw new ArgumentException($"Concat: {Tensor.FormatShape(p.Shape)} does not match {Tensor.FormatShape(first.Shape)} off axis {ax}");
            total += p.Dim(ax);
        }
        var (outer, _, inner) = AxisSplit(first.Shape, ax);
        var shape = first.ShapeArray();
        shape[ax] = total;
        var y = NewOut(shape);
        var ys = y.Span;
        int offset = 0;
        foreach (var p in parts)
        {
            int len = p.Dim(ax);
            var ps = p.Span;
            for (int o = 0; o < outer; o++)
                ps.Slice(o * len * inner, len * inner).CopyTo(ys.Slice((o * total + offset) * inner, len * inner));
            offset += len;
        }
        bool needs = false;
        foreach (var p in parts) needs |= p.RequiresGrad;
        if (needs && Graph.IsGradEnabled)
            Graph.Record(y, "Concat", (Tensor[])parts.Clone(), () =>
            {
                var g = y.Grad!.Span;
                int off = 0;
                foreach (var p in parts)
                {
                    int len = p.Dim(ax);
                    if (p.RequiresGrad)
                    {
                        var gb = p.GradBuffer(out bool fresh);
                        var d = gb.Span;
                        for (int o = 0; o < outer; o++)
                        {
                            var src = g.Slice((o * total + off) * inner, len * inner);
                            var dst = d.Slice(o * len * inner, len * inner);
                            if (fresh) src.CopyTo(dst);
                            else System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);
                        }
                    }
                    off += len;
                }
            });
        return y;
    }
}
