using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>Helpers shared by growth experiments.</summary>
public static class GrowthExperiments
{
    /// <summary>
    /// A stratified subset of <paramref name="samples"/> training samples (0 = all), split into training and
    /// validation parts.
    /// </summary>
    public static (InMemoryDataset Train, InMemoryDataset Validation) TrainValidation(InMemoryDataset full, int samples, double validationFraction, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(rng);
        var y = full.Labels ?? throw new ArgumentException("a stratified split needs class labels");
        int classes = y.Max() + 1;
        int[] pool = InMemoryDataset.Identity(full.Count);
        if (samples > 0 && samples < full.Count)
            pool = Data.Splits.Stratified(y, classes, 1.0 - (double)samples / full.Count, rng.Fork("subset")).Train;
        var labels = pool.Select(i => y[i]).ToArray();
        var fold = Data.Splits.Stratified(labels, classes, validationFraction, rng.Fork("val"));
        return (full.Subset(fold.Train.Select(i => pool[i]).ToArray()), full.Subset(fold.Validation.Select(i => pool[i]).ToArray()));
    }
}
