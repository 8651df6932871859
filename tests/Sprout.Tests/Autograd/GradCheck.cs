using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Autograd;

/// <summary>A double-precision tensor for reference implementations.</summary>
public sealed record DT(double[] Data, int[] Shape)
{
    public int Length => Data.Length;
    public int Dim(int i) => Shape[i < 0 ? i + Shape.Length : i];
}

/// <summary>
/// Finite-difference gradient check in double precision: the op's analytic gradient (float32, from our backward
/// rule) must match central differences of an independent double-precision reference forward.
/// The reference's output is also compared with the op's forward.
/// </summary>
public static class GradCheck
{
    public static void Check(Func<Tensor[], Tensor> op, Func<DT[], DT> reference, ulong seed, params int[][] shapes) =>
        Check(op, reference, seed, avoidZero: false, shapes);

    public static void Check(Func<Tensor[], Tensor> op, Func<DT[], DT> reference, ulong seed, bool avoidZero, params int[][] shapes)
    {
        var rng = new Rng(seed);
        var inputs = new Tensor[shapes.Length];
        for (int i = 0; i < shapes.Length; i++)
        {
            var t = Tensor.Empty(shapes[i]);
            var s = t.Span;
            for (int j = 0; j < s.Length; j++)
            {
                double v;
                do { v = rng.Uniform(-1.5, 1.5); } while (avoidZero && Math.Abs(v) < 0.1);
                s[j] = (float)v;
            }
            t.RequiresGrad = true;
            inputs[i] = t;
        }
        Check(op, reference, rng, inputs);
    }

    public static void Check(Func<Tensor[], Tensor> op, Func<DT[], DT> reference, Rng rng, Tensor[] inputs)
    {
        var y = op(inputs);
        var dIn = inputs.Select(t => new DT(t.ToArray().Select(v => (double)v).ToArray(), t.ShapeArray())).ToArray();
        var yRef = reference(dIn);
        Assert.Equal(yRef.Shape, y.ShapeArray());
        var ys = y.Span;
        for (int i = 0; i < ys.Length; i++)
            Assert.True(Math.Abs(ys[i] - yRef.Data[i]) <= 1e-4 + 1e-4 * Math.Abs(yRef.Data[i]),
                $"forward[{i}]: op {ys[i]} vs reference {yRef.Data[i]}");

        // L = sum(y * R) for a random R: the analytic gradient comes from Backward(R).
        var r = new double[ys.Length];
        for (int i = 0; i < r.Length; i++) r[i] = rng.Uniform(-1, 1);
        var rT = Tensor.FromArray(r.Select(v => (float)v).ToArray(), y.ShapeArray());
        y.Backward(rT);

        const double h = 1e-6;
        for (int k = 0; k < inputs.Length; k++)
        {
            var grad = inputs[k].Grad;
            Assert.NotNull(grad);
            var g = grad!.Span;
            for (int j = 0; j < dIn[k].Length; j++)
            {
                double orig = dIn[k].Data[j];
                dIn[k].Data[j] = orig + h;
                double lp = Dot(reference(dIn).Data, r);
                dIn[k].Data[j] = orig - h;
                double lm = Dot(reference(dIn).Data, r);
                dIn[k].Data[j] = orig;
                double num = (lp - lm) / (2 * h);
                Assert.True(Math.Abs(g[j] - num) <= 2e-4 + 2e-3 * Math.Abs(num),
                    $"input {k} element {j}: analytic {g[j]} vs numeric {num}");
            }
        }
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }
}
