namespace Sprout.Diagnostics;

/// <summary>Function preservation at insertion (methods §8).</summary>
public static class FunctionChange
{
    /// <summary>max |a − b| over two equally long output arrays (e.g. logits of one batch before and after growth).</summary>
    public static double MaxAbsDifference(ReadOnlySpan<float> before, ReadOnlySpan<float> after)
    {
        if (before.Length != after.Length) throw new ArgumentException($"outputs differ in length ({before.Length} vs {after.Length})");
        double m = 0;
        for (int i = 0; i < before.Length; i++) m = Math.Max(m, Math.Abs((double)before[i] - after[i]));
        return m;
    }
}
