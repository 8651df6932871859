using MathNet.Numerics.LinearAlgebra;
using Sprout.Growth;
using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class SpdCholeskyTests
{
    // a random SPD matrix with a condition number of about 1e4 (AᵀA/rows of a badly scaled A, plus a small ridge)
    private static double[] RandomSpd(int n, ulong seed)
    {
        var rng = new Rng(seed);
        int rows = n + 3;
        var buf = new float[rows * n];
        rng.FillNormal(buf, 0, 1);
        var a = Matrix<double>.Build.Dense(rows, n, (i, j) => buf[i * n + j] * Math.Pow(100, (double)j / Math.Max(1, n - 1)));
        var s = a.TransposeThisAndMultiply(a) / rows;
        for (int i = 0; i < n; i++) s[i, i] += 1e-3;
        return s.ToRowMajorArray();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(33)]
    [InlineData(131)]
    [InlineData(200)]
    public void FactorAndSolveMatchTheScalarTwinsAndMathNet(int n)
    {
        var s = RandomSpd(n, (ulong)n);
        var l = (double[])s.Clone();
        var ls = (double[])s.Clone();
        SpdCholesky.Factor(l, n);
        SpdCholesky.FactorScalar(ls, n);
        // the blocked parallel factor computes every entry by the same dot product: bit-identical, on 1 or 2 threads
        int threads = Workers.Threads;
        try
        {
            foreach (int t in new[] { 1, 2 })
            {
                Workers.Threads = t;
                // minRows 0: the blocked path at every size; the default sends these sizes to the serial factor
                foreach (int minRows in new[] { 0, SpdCholesky.ParallelMinRows })
                {
                    var lp = (double[])s.Clone();
                    SpdCholesky.FactorParallel(lp, n, minRows);
                    Assert.Equal(l, lp);
                }
            }
        }
        finally { Workers.Threads = threads; }
        var want = Matrix<double>.Build.DenseOfRowMajor(n, n, s).Cholesky().Factor;
        for (int i = 0; i < n; i++)
        {
            double scale = Math.Sqrt(s[i * n + i]); // |L[i, j]| ≤ √S[i, i]
            for (int j = 0; j < n; j++)
            {
                Assert.Equal(ls[i * n + j], l[i * n + j], 1e-11 * scale);
                Assert.Equal(want[i, j], l[i * n + j], 1e-10 * scale);
            }
            for (int j = i + 1; j < n; j++) Assert.Equal(0, l[i * n + j]);
        }
        // three right-hand sides, stored as rows (Bᵀ)
        const int m = 3;
        var rng = new Rng(99);
        var bf = new float[m * n];
        rng.FillNormal(bf, 0, 1);
        var bt = bf.Select(v => (double)v).ToArray();
        var bts = (double[])bt.Clone();
        SpdCholesky.Solve(l, n, bt, m);
        SpdCholesky.SolveScalar(ls, n, bts, m);
        var x = Matrix<double>.Build.DenseOfRowMajor(n, n, s).Cholesky().Solve(Matrix<double>.Build.Dense(n, m, bf.Select(v => (double)v).ToArray()));
        for (int r = 0; r < m; r++)
        {
            double scale = x.Column(r).AbsoluteMaximum();
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(bts[r * n + i], bt[r * n + i], 1e-8 * scale);
                Assert.Equal(x[i, r], bt[r * n + i], 1e-7 * scale);
            }
        }
        // and the residual of the solve itself is small: S·x = b
        var sm = Matrix<double>.Build.DenseOfRowMajor(n, n, s);
        var xm = Matrix<double>.Build.Dense(n, m, bt);
        var bm = Matrix<double>.Build.Dense(n, m, bf.Select(v => (double)v).ToArray());
        Assert.True((sm * xm - bm).FrobeniusNorm() < 1e-6 * bm.FrobeniusNorm());
    }

    [Fact]
    public void ANonPositiveDefiniteMatrixIsRejected()
    {
        double[] s = [1, 2, 2, 1]; // eigenvalues 3 and −1
        Assert.Throws<ArgumentException>(() => SpdCholesky.Factor((double[])s.Clone(), 2));
        Assert.Throws<ArgumentException>(() => SpdCholesky.FactorScalar((double[])s.Clone(), 2));
        Assert.Throws<ArgumentException>(() => SpdCholesky.Factor(new[] { double.NaN }, 1));
        Assert.Throws<ArgumentException>(() => SpdCholesky.Factor(new double[3], 2));
        Assert.Throws<ArgumentException>(() => SpdCholesky.Solve(new double[] { 1 }, 1, new double[2], 3));
    }
}
