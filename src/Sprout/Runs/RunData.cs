using Sprout.Data;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Runs;

/// <summary>
/// The data of a run: a data set of the catalog (fetched into the data folder when missing), or a generated one,
/// turned into training, validation and test sets.
/// </summary>
public static class RunData
{
    /// <summary>Generated data sets (no files needed): 2-D two-class tasks for smoke runs, tests and demos.</summary>
    public static IReadOnlyList<string> SyntheticNames { get; } = ["spirals", "moons"];

    /// <summary>Every name <see cref="Load"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = DataCatalog.Names.Concat(SyntheticNames).ToArray();

    /// <summary>Features per sample of a data set (784 for MNIST, 2 for the generated ones), its images padded by
    /// <paramref name="pad"/> pixels on every side (generated sets ignore it).</summary>
    public static int Features(string name, int pad = 0) =>
        SyntheticNames.Contains(name) ? 2 : DataCatalog.Get(name) is var d ? d.Channels * (d.Height + 2 * pad) * (d.Width + 2 * pad) : 0;

    /// <summary>
    /// Train and test splits of <paramref name="name"/>: catalog images normalised with the training set's per-channel
    /// statistics and kept as bytes; a generated set is drawn from fixed streams (the same data for every run).
    /// A catalog set missing from <paramref name="dataDir"/> is fetched first when <paramref name="log"/> is given.
    /// <paramref name="scaling"/> says how catalog pixels become features (generated sets ignore it);
    /// <paramref name="pad"/> adds that many black pixels on every side of every image first (the statistics of
    /// <see cref="InputScaling.Standardize"/> are those of the padded training images).
    /// </summary>
    public static (InMemoryDataset Train, InMemoryDataset Test) Load(string name, string? dataDir, Action<string>? log = null,
        InputScaling scaling = InputScaling.Standardize, int pad = 0)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (SyntheticNames.Contains(name))
        {
            var rng = new Rng(0x5EED).Fork(name);
            (float[] X, int[] Y) Make(int n, Rng r) => name == "spirals" ? Synthetic.TwoSpirals(n, r) : Synthetic.TwoMoons(n, r);
            var (x, y) = Make(4000, rng.Fork("train"));
            var (tx, ty) = Make(1000, rng.Fork("test"));
            return (new InMemoryDataset(x, y, 2), new InMemoryDataset(tx, ty, 2));
        }
        var spec = DataCatalog.Find(name) ?? throw new ArgumentException($"unknown data set '{name}' (known: {string.Join(", ", Names)})");
        string dir = DataDirectory.Resolve(dataDir);
        if (!DataCatalog.IsPresent(spec, dir))
        {
            if (log is null)
                throw new DataFormatException(DataCatalog.FolderOf(spec, dir), $"{name} is not in the data folder (run 'sprout data fetch {name}' or pass --data-dir)");
            log($"{name} is not in {dir}: fetching it");
            var fetched = new DataFetcher(dir, line => log("  " + line)).Fetch(spec);
            log($"{name}: {fetched.Source}");
        }
        var train = DataCatalog.Load(spec, DataSplit.Train, dir).Pad(pad);
        var test = DataCatalog.Load(spec, DataSplit.Test, dir).Pad(pad);
        var (mean, std) = scaling switch
        {
            InputScaling.Standardize => train.ChannelStats(),
            // x·scale + shift with mean 0 and std 1/255 (pixel units): the raw byte value; std 1: pixel / 255
            InputScaling.Raw => (new float[train.Channels], Enumerable.Repeat(1f / 255f, train.Channels).ToArray()),
            _ => (new float[train.Channels], Enumerable.Repeat(1f, train.Channels).ToArray()),
        };
        return (Flatten(train, mean, std), Flatten(test, mean, std));
    }

    /// <summary>
    /// [count, C·H·W] features of <paramref name="data"/> normalised with the given per-channel mean and std
    /// (in 0..1 pixel units, as <see cref="Dataset.ChannelStats"/> reports them), kept as bytes.
    /// </summary>
    public static InMemoryDataset Flatten(Dataset data, float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
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

    /// <summary>
    /// A stratified subset of <paramref name="samples"/> training samples (0 = all), split into training and
    /// validation parts.
    /// </summary>
    public static (InMemoryDataset Train, InMemoryDataset Validation) TrainValidation(InMemoryDataset full, int samples, double validationFraction, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(full);
        ArgumentNullException.ThrowIfNull(rng);
        var labels = full.Labels ?? throw new ArgumentException("a validation split needs class labels");
        int classes = labels.Max() + 1;
        int[] pool = InMemoryDataset.Identity(full.Count);
        if (samples > 0 && samples < full.Count)
            pool = Splits.Stratified(labels, classes, 1.0 - (double)samples / full.Count, rng.Fork("subset")).Train;
        var poolLabels = pool.Select(i => labels[i]).ToArray();
        var fold = Splits.Stratified(poolLabels, classes, validationFraction, rng.Fork("val"));
        return (full.Subset(fold.Train.Select(i => pool[i]).ToArray()), full.Subset(fold.Validation.Select(i => pool[i]).ToArray()));
    }
}
