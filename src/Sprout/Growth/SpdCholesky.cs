using System.Numerics.Tensors;
using Sprout.Kernels;

namespace Sprout.Growth;

/// <summary>
/// Cholesky factor A = L·Lᵀ of a dense symmetric positive-definite row-major [n, n] matrix in double, and the solve of
/// A·X = B for several right-hand sides. Row-oriented (Cholesky–Banachiewicz): each entry of L is one inner product of
/// two contiguous row prefixes, taken by <c>TensorPrimitives.Dot</c>
/// (SIMD); <see cref="FactorParallel"/> splits row blocks over <see cref="Workers"/>. The growth extenders' covariances
/// go up to a few thousand rows, where MathNet's managed Cholesky runs at about 3–5 GFLOP/s (measured, 785×785: 34–50 ms
/// against 13–15 ms for <see cref="Factor"/> inside a growth step, which is what <see cref="FactorParallel"/> runs at that
/// size; 1569×1569: 305–444 ms against 63–72 ms for <see cref="FactorParallel"/> on two threads). The scalar twins
/// (<see cref="FactorScalar"/>, <see cref="SolveScalar"/>) are the plain loops the tests compare against.
/// </summary>
internal static class SpdCholesky
{
    /// <summary>
    /// Overwrites the lower triangle of <paramref name="a"/> ([n, n], row-major; only the lower triangle is read) with L
    /// and zeroes the strict upper triangle. Throws <see cref="ArgumentException"/> when a pivot is not positive (the
    /// matrix is not positive definite, or holds NaN).
    /// </summary>
    public static void Factor(Span<double> a, int n)
    {
        Check(a.Length, n);
        for (int i = 0; i < n; i++)
        {
            var ri = a.Slice(i * n, n);
            for (int j = 0; j < i; j++) ri[j] = (ri[j] - TensorPrimitives.Dot(ri[..j], a.Slice(j * n, j))) / a[j * n + j];
            double d = ri[i] - TensorPrimitives.Dot(ri[..i], ri[..i]);
            if (!(d > 0)) throw new ArgumentException($"matrix is not positive definite (pivot {i} of {n} is {d})");
            ri[i] = Math.Sqrt(d);
            ri[(i + 1)..].Clear();
        }
    }

    /// <summary>Rows per block of <see cref="FactorParallel"/>.</summary>
    private const int Block = 64;

    /// <summary>
    /// Below this many rows <see cref="FactorParallel"/> runs <see cref="Factor"/> on the calling thread: each 64-row
    /// block is one hand-off to the workers, and on a busy two-core machine a hand-off can wait milliseconds for the
    /// other core, so at 785 rows (12 hand-offs, ~14 ms of serial work) two threads took 23–41 ms inside a growth step
    /// against 13–15 ms serial.
    /// </summary>
    internal const int ParallelMinRows = 1024;

    /// <summary>
    /// <see cref="Factor"/> over <see cref="Workers"/>: rows go in blocks of 64; within a block, each row's entries left
    /// of the block depend only on earlier blocks and on that row, so the rows are split over the threads, and the small
    /// triangle inside the block follows row by row. Every entry is computed by the same dot product as in
    /// <see cref="Factor"/>, so the result is bit-identical for any thread count. Matrices under
    /// <paramref name="minRows"/> rows (default <see cref="ParallelMinRows"/>) take <see cref="Factor"/> directly.
    /// </summary>
    public static void FactorParallel(Memory<double> a, int n, int minRows = ParallelMinRows)
    {
        Check(a.Length, n);
        if (n < minRows || Workers.Threads == 1)
        {
            Factor(a.Span, n);
            return;
        }
        for (int b0 = 0; b0 < n; b0 += Block)
        {
            int b1 = Math.Min(n, b0 + Block), rowsIn = b1 - b0;
            int parts = Math.Min(Workers.Threads, (int)Math.Max(1, (long)rowsIn * b0 * b0 / (1 << 16)));
            if (b0 > 0)
            {
                Workers.Run(parts, part =>
                {
                    int r0 = b0 + part * rowsIn / parts, r1 = b0 + (part + 1) * rowsIn / parts;
                    for (int i = r0; i < r1; i++)
                    {
                        var s = a.Span;
                        var ri = s.Slice(i * n, n);
                        for (int j = 0; j < b0; j++) ri[j] = (ri[j] - TensorPrimitives.Dot(ri[..j], s.Slice(j * n, j))) / s[j * n + j];
                    }
                });
            }
            var all = a.Span;
            for (int i = b0; i < b1; i++)
            {
                var ri = all.Slice(i * n, n);
                for (int j = b0; j < i; j++) ri[j] = (ri[j] - TensorPrimitives.Dot(ri[..j], all.Slice(j * n, j))) / all[j * n + j];
                double d = ri[i] - TensorPrimitives.Dot(ri[..i], ri[..i]);
                if (!(d > 0)) throw new ArgumentException($"matrix is not positive definite (pivot {i} of {n} is {d})");
                ri[i] = Math.Sqrt(d);
                ri[(i + 1)..].Clear();
            }
        }
    }

    /// <summary>The scalar twin of <see cref="Factor"/> (plain loops, the same order of operations up to the dot products' summation order).</summary>
    public static void FactorScalar(Span<double> a, int n)
    {
        Check(a.Length, n);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double s = a[i * n + j];
                for (int k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
                if (j < i) a[i * n + j] = s / a[j * n + j];
                else
                {
                    if (!(s > 0)) throw new ArgumentException($"matrix is not positive definite (pivot {i} of {n} is {s})");
                    a[i * n + i] = Math.Sqrt(s);
                }
            }
            for (int j = i + 1; j < n; j++) a[i * n + j] = 0;
        }
    }

    /// <summary>
    /// Solves L·Lᵀ·x = b in place for each of the <paramref name="m"/> right-hand sides stored as the rows of
    /// <paramref name="bt"/> ([m, n], i.e. Bᵀ), with <paramref name="l"/> from <see cref="Factor"/>: the forward sweep
    /// takes row prefixes of L by dot products, the backward sweep subtracts them (axpy), so L is only read by rows.
    /// </summary>
    public static void Solve(ReadOnlySpan<double> l, int n, Span<double> bt, int m)
    {
        Check(l.Length, n);
        if (m < 0 || bt.Length != (long)m * n) throw new ArgumentException($"right-hand sides: {bt.Length} entries for {m}×{n}");
        // row i of L is applied to every right-hand side in turn, so it is read from memory once per sweep, not m
        // times; each right-hand side sees the same operations in the same order as when solved alone
        for (int i = 0; i < n; i++)
        {
            var li = l.Slice(i * n, i);
            double lii = l[i * n + i];
            for (int r = 0; r < m; r++)
            {
                var y = bt.Slice(r * n, n);
                y[i] = (y[i] - TensorPrimitives.Dot(li, y[..i])) / lii;
            }
        }
        for (int i = n - 1; i >= 0; i--)
        {
            var li = l.Slice(i * n, i);
            double lii = l[i * n + i];
            for (int r = 0; r < m; r++)
            {
                var y = bt.Slice(r * n, n);
                double x = y[i] / lii;
                y[i] = x;
                if (i > 0) TensorPrimitives.MultiplyAdd(li, -x, y[..i], y[..i]);
            }
        }
    }

    /// <summary>The scalar twin of <see cref="Solve"/>.</summary>
    public static void SolveScalar(ReadOnlySpan<double> l, int n, Span<double> bt, int m)
    {
        Check(l.Length, n);
        if (m < 0 || bt.Length != (long)m * n) throw new ArgumentException($"right-hand sides: {bt.Length} entries for {m}×{n}");
        for (int r = 0; r < m; r++)
        {
            int o = r * n;
            for (int i = 0; i < n; i++)
            {
                double s = bt[o + i];
                for (int k = 0; k < i; k++) s -= l[i * n + k] * bt[o + k];
                bt[o + i] = s / l[i * n + i];
            }
            for (int i = n - 1; i >= 0; i--)
            {
                double s = bt[o + i];
                for (int k = i + 1; k < n; k++) s -= l[k * n + i] * bt[o + k];
                bt[o + i] = s / l[i * n + i];
            }
        }
    }

    private static void Check(int length, int n)
    {
        if (n < 0 || length != (long)n * n) throw new ArgumentException($"matrix: {length} entries for {n}×{n}");
    }
}
