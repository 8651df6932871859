using MathNet.Numerics.LinearAlgebra;
using Sprout.Tensors;

namespace Sprout.Growth;

/// <summary>
/// The smallest eigenpair of a dense symmetric matrix (splitting steepest descent needs only λ_min and v_min): MathNet's
/// full eigendecomposition, or Lanczos for large matrices. Eigenvectors are unit length with their largest-magnitude
/// entry positive.
/// </summary>
public static class SymmetricEigen
{
    /// <summary>The smallest eigenpair of a symmetric row-major [n, n] matrix by MathNet's full eigendecomposition.</summary>
    public static (double Value, double[] Vector) FullMin(double[] s, int n)
    {
        ArgumentNullException.ThrowIfNull(s);
        var m = Matrix<double>.Build.Dense(n, n, s); // column-major of a symmetric matrix = the matrix
        var evd = m.Evd(Symmetricity.Symmetric);
        var ev = evd.EigenValues;
        int best = 0;
        for (int i = 1; i < n; i++)
            if (ev[i].Real < ev[best].Real) best = i;
        var v = evd.EigenVectors.Column(best).ToArray();
        return (ev[best].Real, CanonicalSign(v));
    }

    /// <summary>
    /// The smallest eigenpair of a symmetric row-major [n, n] matrix by Lanczos with full reorthogonalisation from a
    /// random start (<paramref name="rng"/>): the Krylov basis grows until the Ritz residual |β_m·y_m| of the smallest
    /// Ritz value falls below 1e-9·‖S‖_F (or the basis spans the space); the small tridiagonal problem is solved by MathNet.
    /// </summary>
    public static (double Value, double[] Vector) LanczosMin(double[] s, int n, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(rng);
        if (n <= 2) return FullMin(s, n);
        double fro = 0;
        foreach (double x in s) fro += x * x;
        fro = Math.Sqrt(fro);
        if (fro == 0)
        {
            var e0 = new double[n];
            e0[0] = 1;
            return (0, e0);
        }
        var q = new List<double[]>();
        var alpha = new List<double>();
        var beta = new List<double>();
        var start = new double[n];
        for (int t = 0; t < n; t++) start[t] = rng.Uniform(-1, 1);
        Scale(start, 1 / Norm(start));
        q.Add(start);
        var w = new double[n];
        int nextCheck = 8;
        while (true)
        {
            int j = q.Count - 1;
            var qj = q[j];
            for (int r = 0; r < n; r++)
            {
                double acc = 0;
                int row = r * n;
                for (int c = 0; c < n; c++) acc += s[row + c] * qj[c];
                w[r] = acc;
            }
            double a = Dot(qj, w);
            alpha.Add(a);
            for (int pass = 0; pass < 2; pass++)
                foreach (var qi in q)
                {
                    double c = Dot(qi, w);
                    for (int t = 0; t < n; t++) w[t] -= c * qi[t];
                }
            double b = Norm(w);
            int m = alpha.Count;
            bool exhausted = m == n || b <= 1e-12 * fro;
            if (exhausted || m >= nextCheck)
            {
                var (theta, y) = TridiagonalMin(alpha, beta, m);
                if (exhausted || b * Math.Abs(y[m - 1]) <= 1e-9 * fro)
                {
                    var v = new double[n];
                    for (int i = 0; i < m; i++)
                        for (int t = 0; t < n; t++) v[t] += y[i] * q[i][t];
                    Scale(v, 1 / Norm(v));
                    return (theta, CanonicalSign(v));
                }
                nextCheck = Math.Max(m + 8, m + m / 4);
            }
            beta.Add(b);
            var next = new double[n];
            for (int t = 0; t < n; t++) next[t] = w[t] / b;
            q.Add(next);
        }
    }

    private static (double Value, double[] Vector) TridiagonalMin(List<double> alpha, List<double> beta, int m)
    {
        var t = Matrix<double>.Build.Dense(m, m);
        for (int i = 0; i < m; i++)
        {
            t[i, i] = alpha[i];
            if (i + 1 < m)
            {
                t[i, i + 1] = beta[i];
                t[i + 1, i] = beta[i];
            }
        }
        var evd = t.Evd(Symmetricity.Symmetric);
        int best = 0;
        for (int i = 1; i < m; i++)
            if (evd.EigenValues[i].Real < evd.EigenValues[best].Real) best = i;
        return (evd.EigenValues[best].Real, evd.EigenVectors.Column(best).ToArray());
    }

    // the sign that makes the largest-magnitude entry positive (eigenvectors are defined up to sign)
    private static double[] CanonicalSign(double[] v)
    {
        int k = 0;
        for (int i = 1; i < v.Length; i++)
            if (Math.Abs(v[i]) > Math.Abs(v[k])) k = i;
        if (v.Length > 0 && v[k] < 0)
            for (int i = 0; i < v.Length; i++) v[i] = -v[i];
        return v;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static double Norm(double[] a) => Math.Sqrt(Dot(a, a));

    private static void Scale(double[] a, double f)
    {
        for (int i = 0; i < a.Length; i++) a[i] *= f;
    }
}
