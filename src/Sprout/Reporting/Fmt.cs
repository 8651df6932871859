using System.Globalization;

namespace Sprout.Reporting;

/// <summary>How a report writes numbers (invariant culture; "—" for a missing value).</summary>
internal static class Fmt
{
    public const string Missing = "—";

    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    /// <summary>A plain number: up to <paramref name="decimals"/> decimals, significant digits for tiny values.</summary>
    public static string Num(double x, int decimals = 4)
    {
        if (!double.IsFinite(x)) return double.IsNaN(x) ? Missing : x > 0 ? "∞" : "−∞";
        if (x != 0 && Math.Abs(x) < Math.Pow(10, -decimals + 1) && Math.Abs(x) < 0.01) return Sci(x);
        return Minus(x.ToString(decimals <= 0 ? "0" : "0." + new string('#', decimals), C));
    }

    /// <summary>Exactly <paramref name="decimals"/> decimals (columns of losses line up).</summary>
    public static string Fixed(double x, int decimals) =>
        double.IsFinite(x) ? Minus(x.ToString("F" + decimals.ToString(C), C)) : Num(x);

    /// <summary>Scientific notation with three significant digits ("9.88e-7"), plain for 0.</summary>
    public static string Sci(double x)
    {
        if (!double.IsFinite(x) || x == 0 || (Math.Abs(x) >= 0.01 && Math.Abs(x) < 1e4)) return Num(x, 3);
        string s = x.ToString("0.00e+0", C);
        return Minus(s.Replace("e+", "e", StringComparison.Ordinal));
    }

    /// <summary>An integer with thousands separators.</summary>
    public static string Int(double x) => double.IsFinite(x) ? Minus(Math.Round(x).ToString("#,0", C)) : Missing;

    /// <summary>A fraction as a percentage with two decimals ("97.31 %").</summary>
    public static string Pct(double fraction) => double.IsFinite(fraction) ? (fraction * 100).ToString("0.00", C) + " %" : Missing;

    /// <summary>mean ± std (just the mean when std is missing).</summary>
    public static string MeanStd(double mean, double std, Func<double, string> f) =>
        double.IsFinite(std) && double.IsFinite(mean) ? $"{f(mean)} ± {f(std)}" : f(mean);

    /// <summary>Seconds as "42.1 s", "3 min 05 s" or "2 h 03 min".</summary>
    public static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds)) return Missing;
        if (seconds < 60) return seconds.ToString("0.0", C) + " s";
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1
            ? $"{(int)t.TotalHours} h {t.Minutes:00} min"
            : $"{t.Minutes} min {t.Seconds:00} s";
    }

    /// <summary>A signed difference ("+0.42", "−1.3").</summary>
    public static string Signed(double x, int decimals = 3) =>
        !double.IsFinite(x) ? Missing : (x > 0 ? "+" : "") + Num(x, decimals);

    private static string Minus(string s) => s.StartsWith('-') ? "−" + s[1..] : s;
}
