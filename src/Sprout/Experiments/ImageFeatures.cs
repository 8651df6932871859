using Sprout.Data;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>Flattens an image data set to normalised features (pixels/255, then standardised per channel), kept as bytes.</summary>
public static class ImageFeatures
{
    /// <summary>
    /// [count, C·H·W] features of <paramref name="data"/> normalised with the given per-channel mean and std
    /// (in 0..1 pixel units, as <see cref="Dataset.ChannelStats"/> reports them).
    /// </summary>
    public static InMemoryDataset Flatten(Dataset data, float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(data);
        int c = data.Channels;
        if (mean.Length != c || std.Length != c) throw new ArgumentException($"{mean.Length} means and {std.Length} stds for {c} channels");
        var scale = new float[c];
        var shift = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            float inv = 1f / Math.Max(1e-6f, std[ch]);
            scale[ch] = inv / 255f;
            shift[ch] = -mean[ch] * inv;
        }
        // bytes stay bytes (a quarter of the memory; each gathered batch is converted on the fly)
        return new InMemoryDataset(data.Pixels, (int[])data.Labels.Clone(), data.SampleSize, scale, shift);
    }

    /// <summary>Loads train and test splits, normalised with the training set's statistics.</summary>
    public static (InMemoryDataset Train, InMemoryDataset Test) Load(string name, string? dataDir)
    {
        var train = DataCatalog.Load(name, DataSplit.Train, dataDir);
        var test = DataCatalog.Load(name, DataSplit.Test, dataDir);
        var (mean, std) = train.ChannelStats();
        return (Flatten(train, mean, std), Flatten(test, mean, std));
    }
}
