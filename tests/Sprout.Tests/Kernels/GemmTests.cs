using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Kernels;

[Collection("Workers")] // these tests change global kernel settings
public class GemmTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 7, 13, 5 }, { 6, 64, 1 }, { 5, 63, 17 }, { 13, 7, 300 }, { 64, 120, 784 }, { 120, 784, 64 },
        { 129, 65, 257 }, { 97, 250, 33 }, { 250, 97, 520 }, { 2, 300, 3 },
        { 64, 20, 784 }, { 20, 784, 64 }, { 10, 23, 100 }, { 1000, 20, 64 }, { 16, 80, 40 },
    };

    private static float[] Rand(int n, Rng rng)
    {
        var a = new float[n];
        rng.FillUniform(a, -1, 1);
        return a;
    }

    private static void AssertClose(float[] expected, float[] actual, int k)
    {
        double tol = 1e-5 * Math.Sqrt(k + 1) * 4;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"[{i}] {expected[i]} vs {actual[i]}");
    }

    [Theory, MemberData(nameof(Shapes))]
    public void MatchesNaiveForAllTransposes(int m, int n, int k)
    {
        var rng = new Rng((ulong)(m * 1000003 + n * 1009 + k));
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (bool acc in new[] { false, true })
                {
                    var a = Rand(m * k, rng);
                    var b = Rand(k * n, rng);
                    var c0 = Rand(m * n, rng);
                    var expected = (float[])c0.Clone();
                    var actual = (float[])c0.Clone();
                    Gemm.Reference(m, n, k, a, ta ? m : k, ta, b, tb ? k : n, tb, expected, n, acc);
                    Gemm.Multiply(m, n, k, a, ta ? m : k, ta, b, tb ? k : n, tb, actual, n, acc);
                    AssertClose(expected, actual, k);
                }
    }

    [Fact]
    public void LeadingDimensionsLargerThanWidth()
    {
        var rng = new Rng(5);
        int m = 9, n = 11, k = 7, lda = 10, ldb = 15, ldc = 20;
        var a = Rand(m * lda, rng);
        var b = Rand(k * ldb, rng);
        var expected = new float[m * ldc];
        var actual = new float[m * ldc];
        Gemm.Reference(m, n, k, a, lda, false, b, ldb, false, expected, ldc, false);
        Gemm.Multiply(m, n, k, a, lda, false, b, ldb, false, actual, ldc, false);
        AssertClose(expected, actual, k);
        // columns beyond n in C are untouched
        for (int i = 0; i < m; i++)
            for (int j = n; j < ldc; j++) Assert.Equal(0f, actual[i * ldc + j]);
    }

    [Theory]
    [InlineData(Gemm.KernelKind.Scalar)]
    [InlineData(Gemm.KernelKind.Vector256)]
    [InlineData(Gemm.KernelKind.Vector512)]
    public void EveryKernelMatchesNaive(Gemm.KernelKind kind)
    {
        if (kind == Gemm.KernelKind.Vector512 && !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Assert.Skip("no AVX-512");
        if (kind == Gemm.KernelKind.Vector256 && !System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated) Assert.Skip("no AVX2");
        var saved = Gemm.Kernel;
        try
        {
            Gemm.Kernel = kind;
            var rng = new Rng(11);
            foreach (var (m, n, k) in new[] { (7, 13, 5), (129, 65, 257), (6, 16, 3), (31, 200, 90) })
                foreach (bool tb in new[] { false, true })
                {
                    var a = Rand(m * k, rng);
                    var b = Rand(k * n, rng);
                    var expected = new float[m * n];
                    var actual = new float[m * n];
                    Gemm.Reference(m, n, k, a, k, false, b, tb ? k : n, tb, expected, n, false);
                    Gemm.Multiply(m, n, k, a, k, false, b, tb ? k : n, tb, actual, n, false);
                    AssertClose(expected, actual, k);
                }
        }
        finally { Gemm.Kernel = saved; }
    }

    [Fact]
    public unsafe void SimdMicroKernelsMatchScalarTwinOnSamePanels()
    {
        var rng = new Rng(12);
        foreach (int kc in new[] { 1, 3, 17, 256 })
            foreach (var kind in new[] { Gemm.KernelKind.Vector256, Gemm.KernelKind.Vector512 })
            {
                if (kind == Gemm.KernelKind.Vector512 && !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) continue;
                int nr = Gemm.NrOf(kind);
                var a = Rand(Gemm.MR * kc, rng);
                var b = Rand(nr * kc, rng);
                var c1 = Rand(Gemm.MR * nr, rng);
                var c2 = (float[])c1.Clone();
                fixed (float* pa = a) fixed (float* pb = b) fixed (float* p1 = c1) fixed (float* p2 = c2)
                {
                    Gemm.MicroKernel(kind, kc, pa, 1, Gemm.MR, pb, nr, p1, nr, true);
                    Gemm.KernelScalar(kc, pa, 1, Gemm.MR, pb, nr, p2, nr, true, nr);
                }
                AssertClose(c2, c1, kc);
            }
    }

    [Fact]
    public unsafe void NarrowVector512KernelsMatchScalarTwinAndWriteOnlyTheirTile()
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Assert.Skip("no AVX-512");
        var rng = new Rng(21);
        foreach (int kc in new[] { 1, 5, 64 })
            for (int rows = 1; rows <= Gemm.MR; rows++)
                for (int nv = 1; nv <= 4; nv++)
                foreach (int lastLanes in new[] { 16, 1, 7, 15 })
                {
                    int cols = 16 * (nv - 1) + lastLanes; // a ragged last vector is stored under a lane mask
                    // A transposed (row stride 1, column stride 7) and B rows with stride 70, as the GEMM reads them in place
                    var a = Rand(7 * kc, rng);
                    var b = Rand(70 * kc, rng);
                    var c1 = Rand(Gemm.MR * 64, rng);
                    var c2 = (float[])c1.Clone();
                    var before = (float[])c1.Clone();
                    fixed (float* pa = a) fixed (float* pb = b) fixed (float* p1 = c1) fixed (float* p2 = c2)
                    {
                        Gemm.Kernel512(rows, nv, kc, pa, 1, 7, pb, 70, p1, 64, true, lastLanes);
                        Gemm.KernelScalar(kc, pa, 1, 7, pb, 70, p2, 64, true, cols, rows);
                    }
                    for (int i = 0; i < Gemm.MR; i++)
                        for (int j = 0; j < 64; j++)
                            if (i < rows && j < cols) Assert.Equal(c2[i * 64 + j], c1[i * 64 + j]); // same FMA chain per output
                            else Assert.Equal(before[i * 64 + j], c1[i * 64 + j]);
                }
    }

    [Theory]
    [InlineData(1, 1, 16)]
    [InlineData(4, 6, 17)]
    [InlineData(3, 5, 100)]
    [InlineData(2, 1, 1024)]
    [InlineData(4, 2, 24)]
    [InlineData(4, 4, 120)]
    [InlineData(1, 3, 40)]
    [InlineData(4, 6, 1)]   // k tails of 1..15 are one masked step
    [InlineData(3, 6, 15)]
    [InlineData(4, 5, 300)]
    public unsafe void DotTileMatchesScalarTwin(int mm, int nn, int kd)
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Assert.Skip("no AVX-512");
        var rng = new Rng((ulong)(mm * 31 + nn * 7 + kd));
        var a = Rand(4 * kd, rng);
        var b = Rand(6 * kd, rng);
        var c1 = Rand(4 * 6, rng);
        var c2 = (float[])c1.Clone();
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* p1 = c1) fixed (float* p2 = c2)
        {
            GemmDot.Tile(kd, pa, kd, mm, pb, kd, nn, p1, 6, true);
            GemmDot.Tile4x6Scalar(kd, pa, kd, mm, pb, kd, nn, p2, 6, true);
        }
        // the twin sums the same products in the same lanes and halving order: equal bit for bit
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 6; j++) Assert.Equal(c2[r * 6 + j], c1[r * 6 + j]); // and untouched outside the valid part
    }

    [Theory]
    [InlineData(64, 120, 784)]
    [InlineData(300, 500, 200)]
    [InlineData(1000, 256, 784)]
    public void TwoThreadsBitIdenticalToOne(int m, int n, int k)
    {
        var rng = new Rng(13);
        var a = Rand(m * k, rng);
        var b = Rand(n * k, rng);
        var c1 = new float[m * n];
        var c2 = new float[m * n];
        int saved = Workers.Threads;
        long savedThreshold = Gemm.ParallelThreshold;
        try
        {
            Gemm.ParallelThreshold = 1;
            Workers.Threads = 1;
            Gemm.Multiply(m, n, k, a, k, false, b, k, true, c1, n, false);
            Workers.Threads = 2;
            Gemm.Multiply(m, n, k, a, k, false, b, k, true, c2, n, false);
        }
        finally
        {
            Workers.Threads = saved;
            Gemm.ParallelThreshold = savedThreshold;
        }
        Assert.Equal(c1, c2);
    }

    [Fact]
    public void ZeroKOverwritesOrKeeps()
    {
        var c = new float[] { 1, 2, 3, 4 };
        Gemm.Multiply(2, 2, 0, Array.Empty<float>(), 0, false, Array.Empty<float>(), 2, false, c, 2, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, c);
        Gemm.Multiply(2, 2, 0, Array.Empty<float>(), 0, false, Array.Empty<float>(), 2, false, c, 2, accumulate: false);
        Assert.Equal(new float[4], c);
    }

    [Fact]
    public void RejectsShortOperands()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(4, 4, 4, new float[15], 4, false, new float[16], 4, false, new float[16], 4, false));
        Assert.Contains("A", e.Message);
    }
}

[Collection("Workers")] // changes the process-wide thread count
public class WorkersTests
{
    [Fact]
    public void ConcurrentCallersDoNotDeadlockAndGetSameResults()
    {
        int saved = Workers.Threads;
        Workers.Threads = 2;
        try
        {
            var results = new long[8];
            var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
            {
                long sum = 0;
                for (int rep = 0; rep < 200; rep++)
                {
                    var parts = new long[2];
                    Workers.Run(2, p => parts[p] = p + 1);
                    sum += parts[0] + parts[1];
                }
                results[t] = sum;
            })).ToArray();
            foreach (var th in threads) th.Start();
            foreach (var th in threads) Assert.True(th.Join(TimeSpan.FromSeconds(30)), "a caller never returned");
            Assert.All(results, r => Assert.Equal(200 * 3, r));
        }
        finally { Workers.Threads = saved; }
    }
}
