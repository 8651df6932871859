using Sprout.Growth;
using Sprout.Tensors;

namespace Sprout.Experiments;

/// <summary>Helpers shared by growth experiments.</summary>
public static class GrowthExperiments
{
    /// <summary>
    /// A stratified subset of <paramref name="samples"/> training samples (0 = all), split into training and
    /// validation parts.
    /// </summary>
    public static (GrowthData Train, GrowthData Validation) TrainValidation(GrowthData full, int samples, double validationFraction, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(rng);
        int classes = full.Y.Max() + 1;
        int[] pool = GrowthData.Identity(full.Count);
        if (samples > 0 && samples < full.Count)
            pool = Data.Splits.Stratified(full.Y, classes, 1.0 - (double)samples / full.Count, rng.Fork("subset")).Train;
        var labels = pool.Select(i => full.Y[i]).ToArray();
        var fold = Data.Splits.Stratified(labels, classes, validationFraction, rng.Fork("val"));
        return (full.Subset(fold.Train.Select(i => pool[i]).ToArray()), full.Subset(fold.Validation.Select(i => pool[i]).ToArray()));
    }
}
