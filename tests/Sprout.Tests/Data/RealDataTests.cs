using Xunit;
using Sprout.Data;

namespace Sprout.Tests.Data;

/// <summary>Reads the real data sets from the data folder (SPROUT_DATA or the per-user cache); skipped when absent.</summary>
[Trait("Category", "RealData")]
public class RealDataTests
{
    private static string RequireData(DatasetSpec spec)
    {
        string dir = DataDirectory.Resolve();
        if (!DataCatalog.IsPresent(spec, dir))
            Assert.Skip($"{spec.Name} is not in {dir}; run 'sprout data fetch {spec.Name}' (or set SPROUT_DATA)");
        return dir;
    }

    [Theory]
    [InlineData("mnist", new[] { 5, 0, 4, 1, 9 })]
    [InlineData("fashion-mnist", new[] { 9, 0, 0, 3, 0 })]
    public void ReadsOfficialSplits(string name, int[] firstLabels)
    {
        var spec = DataCatalog.Get(name);
        string dir = RequireData(spec);
        var train = DataCatalog.Load(spec, DataSplit.Train, dir);
        var test = DataCatalog.Load(spec, DataSplit.Test, dir);
        Assert.Equal(60000, train.Count);
        Assert.Equal(10000, test.Count);
        Assert.Equal((1, 28, 28, 10), (train.Channels, train.Height, train.Width, train.Classes));
        Assert.Equal(firstLabels, train.Labels.Take(5));
        var (mean, std) = train.ChannelStats();
        Assert.Equal(spec.Mean[0], mean[0], 3);
        Assert.Equal(spec.Std[0], std[0], 3);
        foreach (var f in spec.Files)
        {
            var (sha, len) = Checksums.ContentSha256(DataCatalog.Locate(spec, dir, f.FileName));
            Assert.Equal(f.Sha256, sha);
            Assert.Equal(f.Length, len);
        }
    }

    [Fact]
    public void LoaderEpochOverRealMnist_VisitsAllSamples()
    {
        string dir = RequireData(DataCatalog.Mnist);
        var train = DataCatalog.Load("mnist", DataSplit.Train, dir);
        using var loader = new DataLoader(train, new DataLoaderOptions { BatchSize = 64, Seed = 1, Flatten = true, Mean = [0.1307f], Std = [0.3081f] });
        var seen = new bool[train.Count];
        double sum = 0;
        foreach (var b in loader.Epoch(0))
        {
            foreach (int i in b.SampleIndices) seen[i] = true;
            foreach (float v in b.X.Span) sum += v;
        }
        Assert.All(seen, Assert.True);
        Assert.InRange(sum / ((double)train.Count * 784), -0.01, 0.01); // normalised with the training mean
    }
}
