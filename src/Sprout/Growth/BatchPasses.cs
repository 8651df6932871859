namespace Sprout.Growth;

/// <summary>
/// How many gradient passes a growth method's measurement runs (GradMax's gradient, SSD's splitting matrices, TINY's
/// statistics): at most a given number of batches, drawn without replacement from the training samples.
/// </summary>
internal static class BatchPasses
{
    /// <summary>min(<paramref name="batches"/>, ⌈<paramref name="samples"/> / <paramref name="batchSize"/>⌉).</summary>
    public static int Count(long samples, int batches, int batchSize) =>
        (int)Math.Min(batches, (samples + batchSize - 1) / batchSize);
}
