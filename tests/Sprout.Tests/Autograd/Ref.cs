namespace Sprout.Tests.Autograd;

/// <summary>Naive double-precision reference implementations of every op (independent of the engine).</summary>
public static class Ref
{
    public static DT Map(DT x, Func<double, double> f) => new(x.Data.Select(f).ToArray(), x.Shape);

    public static int[] BroadcastShape(int[] a, int[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var s = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            s[i] = Math.Max(da, db);
        }
        return s;
    }

    private static int[] Unravel(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int i = shape.Length - 1; i >= 0; i--) { idx[i] = flat % shape[i]; flat /= shape[i]; }
        return idx;
    }

    private static int BroadcastIndex(int[] outIdx, int[] shape)
    {
        int off = outIdx.Length - shape.Length, flat = 0;
        for (int i = 0; i < shape.Length; i++) flat = flat * shape[i] + (shape[i] == 1 ? 0 : outIdx[i + off]);
        return flat;
    }

    public static DT Binary(DT a, DT b, Func<double, double, double> f)
    {
        var shape = BroadcastShape(a.Shape, b.Shape);
        int n = shape.Aggregate(1, (x, y) => x * y);
        var d = new double[n];
        for (int i = 0; i < n; i++)
        {
            var idx = Unravel(i, shape);
            d[i] = f(a.Data[BroadcastIndex(idx, a.Shape)], b.Data[BroadcastIndex(idx, b.Shape)]);
        }
        return new DT(d, shape);
    }

    public static DT Sum(DT x) => new([x.Data.Sum()], [1]);

    public static DT ReduceAxis(DT x, int axis, bool keepDim, Func<IEnumerable<double>, double> f)
    {
        int outer = 1, inner = 1, len = x.Shape[axis];
        for (int i = 0; i < axis; i++) outer *= x.Shape[i];
        for (int i = axis + 1; i < x.Shape.Length; i++) inner *= x.Shape[i];
        var d = new double[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
                d[o * inner + i] = f(Enumerable.Range(0, len).Select(a => x.Data[(o * len + a) * inner + i]));
        int[] shape = keepDim ? x.Shape.Select((s, i) => i == axis ? 1 : s).ToArray()
            : x.Shape.Length == 1 ? [1] : x.Shape.Where((_, i) => i != axis).ToArray();
        return new DT(d, shape);
    }

    public static DT MatMul(DT a, DT b, bool ta, bool tb)
    {
        int m = ta ? a.Shape[1] : a.Shape[0], k = ta ? a.Shape[0] : a.Shape[1];
        int n = tb ? b.Shape[0] : b.Shape[1];
        var d = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (ta ? a.Data[p * m + i] : a.Data[i * k + p]) * (tb ? b.Data[j * k + p] : b.Data[p * n + j]);
                d[i * n + j] = s;
            }
        return new DT(d, [m, n]);
    }

    public static DT Linear(DT x, DT w, DT? b)
    {
        var y = MatMul(x, w, false, true);
        if (b is null) return y;
        return Binary(y, b, (p, q) => p + q);
    }

    public static DT LogSoftmax(DT x)
    {
        int c = x.Shape[^1], rows = x.Length / c;
        var d = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < c; j++) max = Math.Max(max, x.Data[r * c + j]);
            double s = 0;
            for (int j = 0; j < c; j++) s += Math.Exp(x.Data[r * c + j] - max);
            for (int j = 0; j < c; j++) d[r * c + j] = x.Data[r * c + j] - max - Math.Log(s);
        }
        return new DT(d, x.Shape);
    }

    public static DT CrossEntropy(DT logits, int[] labels, bool mean)
    {
        var ls = LogSoftmax(logits);
        int n = logits.Shape[0], c = logits.Shape[1];
        double s = 0;
        for (int i = 0; i < n; i++) s -= ls.Data[i * c + labels[i]];
        return new DT([mean ? s / n : s], [1]);
    }

    public static DT Permute(DT x, int[] perm)
    {
        var outShape = perm.Select(p => x.Shape[p]).ToArray();
        int n = x.Length;
        var d = new double[n];
        var inStride = new int[x.Shape.Length];
        int s = 1;
        for (int i = x.Shape.Length - 1; i >= 0; i--) { inStride[i] = s; s *= x.Shape[i]; }
        for (int o = 0; o < n; o++)
        {
            var idx = Unravel(o, outShape);
            int src = 0;
            for (int i = 0; i < perm.Length; i++) src += idx[i] * inStride[perm[i]];
            d[o] = x.Data[src];
        }
        return new DT(d, outShape);
    }

    public static DT Slice(DT x, int axis, int start, int length)
    {
        int outer = 1, inner = 1, dim = x.Shape[axis];
        for (int i = 0; i < axis; i++) outer *= x.Shape[i];
        for (int i = axis + 1; i < x.Shape.Length; i++) inner *= x.Shape[i];
        var d = new List<double>();
        for (int o = 0; o < outer; o++)
            for (int a = start; a < start + length; a++)
                for (int i = 0; i < inner; i++) d.Add(x.Data[(o * dim + a) * inner + i]);
        var shape = (int[])x.Shape.Clone();
        shape[axis] = length;
        return new DT(d.ToArray(), shape);
    }

    public static DT Concat(int axis, params DT[] parts)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= parts[0].Shape[i];
        for (int i = axis + 1; i < parts[0].Shape.Length; i++) inner *= parts[0].Shape[i];
        var d = new List<double>();
        for (int o = 0; o < outer; o++)
            foreach (var p in parts)
            {
                int len = p.Shape[axis];
                for (int k = 0; k < len * inner; k++) d.Add(p.Data[o * len * inner + k]);
            }
        var shape = (int[])parts[0].Shape.Clone();
        shape[axis] = parts.Sum(p => p.Shape[axis]);
        return new DT(d.ToArray(), shape);
    }
}
