using Sprout.Data;
using Sprout.Growth;

namespace Sprout.Experiments;

/// <summary>Flattens an image data set to normalised float features (pixels/255, then standardised per channel).</summary>
public static class ImageFeatures
{
    /// <summary>
    /// [count, C·H·W] features of <paramref name="data"/> normalised with the given per-channel mean and std
    /// (in 0..1 pixel units, as <see cref="Dataset.ChannelStats"/> reports them).
    /// </summary>
    public static GrowthData Flatten(Dataset data, float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(data);
        int d = data.SampleSize, plane = data.Height * data.Width;
        var x = new float[(long)data.Count * d];
        var px = data.Pixels;
        for (int i = 0; i < data.Count; i++)
            for (int c = 0; c < data.Channels; c++)
            {
                float m = mean[c], inv = 1f / Math.Max(1e-6f, std[c]);
                int off = i * d + c * plane;
                for (int k = 0; k < plane; k++) x[off + k] = (px[off + k] / 255f - m) * inv;
            }
        return new GrowthData(x, (int[])data.Labels.Clone(), d);
    }

    /// <summary>Loads train and test splits, normalised with the training set's statistics.</summary>
    public static (GrowthData Train, GrowthData Test) Load(string name, string? dataDir)
    {
        var train = DataCatalog.Load(name, DataSplit.Train, dataDir);
        var test = DataCatalog.Load(name, DataSplit.Test, dataDir);
        var (mean, std) = train.ChannelStats();
        return (Flatten(train, mean, std), Flatten(test, mean, std));
    }
}
