using System.Numerics.Tensors;

namespace Sprout.Kernels;

/// <summary>Binary elementwise operations.</summary>
public enum BinaryOp
{
    /// <summary>a + b</summary>
    Add,
    /// <summary>a - b</summary>
    Sub,
    /// <summary>a * b</summary>
    Mul,
    /// <summary>a / b</summary>
    Div,
}

/// <summary>
/// NumPy-style broadcasting over rank ≤ 4 (shapes aligned on the right). Iteration collapses adjacent axes that
/// are contiguous for every operand, so a same-shape op is one span call and a bias row add is one call per row.
/// </summary>
public static class Broadcast
{
    /// <summary>The broadcast result shape, or an exception naming both shapes.</summary>
    public static int[] ResultShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"shapes {Format(a)} and {Format(b)} do not broadcast");
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    // "[2, 3]", as Tensor.FormatShape writes shapes (kernels sit below tensors and do not name them)
    private static string Format(ReadOnlySpan<int> shape) =>
        "[" + string.Join(", ", shape.ToArray().Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    // Output dims and per-operand strides after padding to rank 4 and collapsing contiguous axes.
    internal struct Plan
    {
        public int Rank;
        public int D0, D1, D2, D3;
        public int A0, A1, A2, A3;
        public int B0, B1, B2, B3;
    }

    internal static Plan MakePlan(ReadOnlySpan<int> outShape, ReadOnlySpan<int> aShape, ReadOnlySpan<int> bShape)
    {
        Span<int> d = stackalloc int[4];
        Span<int> sa = stackalloc int[4];
        Span<int> sb = stackalloc int[4];
        Strides(outShape, aShape, d, sa);
        Strides(outShape, bShape, d, sb);
        // collapse: merge axis i into i+1 when both operands are contiguous across the pair
        Span<int> cd = stackalloc int[4];
        Span<int> ca = stackalloc int[4];
        Span<int> cb = stackalloc int[4];
        int n = 0;
        for (int i = 0; i < 4; i++)
        {
            if (d[i] == 1) continue; // size-1 axes carry no iteration
            if (n > 0 && ca[n - 1] == sa[i] * d[i] && cb[n - 1] == sb[i] * d[i])
            {
                cd[n - 1] *= d[i];
                ca[n - 1] = sa[i];
                cb[n - 1] = sb[i];
                continue;
            }
            cd[n] = d[i]; ca[n] = sa[i]; cb[n] = sb[i]; n++;
        }
        if (n == 0) { cd[0] = 1; ca[0] = 1; cb[0] = 1; n = 1; }
        // right-align into 4 slots
        var p = new Plan { Rank = n };
        Span<int> pd = stackalloc int[4] { 1, 1, 1, 1 };
        Span<int> pa = stackalloc int[4];
        Span<int> pb = stackalloc int[4];
        for (int i = 0; i < n; i++) { pd[4 - n + i] = cd[i]; pa[4 - n + i] = ca[i]; pb[4 - n + i] = cb[i]; }
        p.D0 = pd[0]; p.D1 = pd[1]; p.D2 = pd[2]; p.D3 = pd[3];
        p.A0 = pa[0]; p.A1 = pa[1]; p.A2 = pa[2]; p.A3 = pa[3];
        p.B0 = pb[0]; p.B1 = pb[1]; p.B2 = pb[2]; p.B3 = pb[3];
        return p;
    }

    // Strides of `shape` viewed in `outShape` padded to rank 4 (0 on broadcast axes).
    private static void Strides(ReadOnlySpan<int> outShape, ReadOnlySpan<int> shape, Span<int> dims, Span<int> strides)
    {
        int off = 4 - outShape.Length;
        for (int i = 0; i < 4; i++) { dims[i] = i < off ? 1 : outShape[i - off]; strides[i] = 0; }
        int s = 1;
        int offS = 4 - shape.Length;
        for (int i = 3; i >= 0; i--)
        {
            int dim = i < offS ? 1 : shape[i - offS];
            strides[i] = dim == 1 ? 0 : s;
            s *= dim;
        }
    }

    /// <summary>out = a op b with broadcasting; <paramref name="outShape"/> must be the broadcast shape.</summary>
    public static void Binary(BinaryOp op, ReadOnlySpan<float> a, ReadOnlySpan<int> aShape, ReadOnlySpan<float> b, ReadOnlySpan<int> bShape,
        Span<float> dst, ReadOnlySpan<int> outShape)
    {
        var p = MakePlan(outShape, aShape, bShape);
        int n3 = p.D3;
        int o = 0;
        for (int i0 = 0; i0 < p.D0; i0++)
            for (int i1 = 0; i1 < p.D1; i1++)
                for (int i2 = 0; i2 < p.D2; i2++)
                {
                    int ia = i0 * p.A0 + i1 * p.A1 + i2 * p.A2;
                    int ib = i0 * p.B0 + i1 * p.B1 + i2 * p.B2;
                    var d = dst.Slice(o, n3);
                    o += n3;
                    if (p.A3 == 1 && p.B3 == 1) Inner(op, a.Slice(ia, n3), b.Slice(ib, n3), d);
                    else if (p.A3 == 1) InnerScalarB(op, a.Slice(ia, n3), b[ib], d);
                    else if (p.B3 == 1) InnerScalarA(op, a[ia], b.Slice(ib, n3), d);
                    else d.Fill(Apply(op, a[ia], b[ib]));
                }
    }

    private static float Apply(BinaryOp op, float x, float y) => op switch
    {
        BinaryOp.Add => x + y,
        BinaryOp.Sub => x - y,
        BinaryOp.Mul => x * y,
        _ => x / y,
    };

    private static void Inner(BinaryOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> d)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(x, y, d); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(x, y, d); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(x, y, d); break;
            default: TensorPrimitives.Divide(x, y, d); break;
        }
    }

    private static void InnerScalarB(BinaryOp op, ReadOnlySpan<float> x, float y, Span<float> d)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(x, y, d); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(x, y, d); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(x, y, d); break;
            default: TensorPrimitives.Divide(x, y, d); break;
        }
    }

    private static void InnerScalarA(BinaryOp op, float x, ReadOnlySpan<float> y, Span<float> d)
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(y, x, d); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(x, y, d); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(y, x, d); break;
            default: TensorPrimitives.Divide(x, y, d); break;
        }
    }

    /// <summary>
    /// Sums <paramref name="src"/> (of <paramref name="srcShape"/>) down to <paramref name="dstShape"/>, which must
    /// broadcast to srcShape; adds into dst when <paramref name="accumulate"/>, else overwrites.
    /// </summary>
    public static void SumTo(ReadOnlySpan<float> src, ReadOnlySpan<int> srcShape, Span<float> dst, ReadOnlySpan<int> dstShape, bool accumulate)
    {
        if (!accumulate) dst.Clear();
        var p = MakePlan(srcShape, dstShape, srcShape); // "A" strides = dst strides within src iteration
        int n3 = p.D3;
        int o = 0;
        for (int i0 = 0; i0 < p.D0; i0++)
            for (int i1 = 0; i1 < p.D1; i1++)
                for (int i2 = 0; i2 < p.D2; i2++)
                {
                    int id = i0 * p.A0 + i1 * p.A1 + i2 * p.A2;
                    var s = src.Slice(o, n3);
                    o += n3;
                    if (p.A3 == 1)
                    {
                        var d = dst.Slice(id, n3);
                        TensorPrimitives.Add(d, s, d);
                    }
                    else dst[id] += TensorPrimitives.Sum(s);
                }
    }
}
