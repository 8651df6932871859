using MathNet.Numerics.Statistics;

namespace Sprout.Reporting;

/// <summary>Mean and sample standard deviation over the finite values (NaN where there are too few).</summary>
internal static class Stats
{
    /// <summary>Mean of the finite values (NaN if none).</summary>
    public static double Mean(IEnumerable<double> xs) => Statistics.Mean(xs.Where(double.IsFinite));

    /// <summary>Largest finite value (NaN if none).</summary>
    public static double Max(IEnumerable<double> xs) => xs.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max();

    /// <summary>Sample standard deviation of the finite values (NaN if fewer than two).</summary>
    public static double Std(IEnumerable<double> xs)
    {
        var f = xs.Where(double.IsFinite).ToArray();
        return f.Length < 2 ? double.NaN : Statistics.StandardDeviation(f);
    }
}
