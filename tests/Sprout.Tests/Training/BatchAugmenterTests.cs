using Sprout.Data;
using Sprout.Growth;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Training;

/// <summary>Training-time augmentation: in pixel units, the same transforms for the same (epoch, batch), configs that validate.</summary>
[Collection("Workers")]
public class BatchAugmenterTests
{
    // 2-channel 4×4 images stored as bytes with a standardising affine per channel
    private static InMemoryDataset Standardised(int n)
    {
        var px = new byte[n * 32];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)(20 + (i * 37) % 200);
        return new InMemoryDataset(px, Enumerable.Range(0, n).Select(i => i % 2).ToArray(), 32, [1 / (255 * 0.3f), 1 / (255 * 0.2f)], [-0.5f / 0.3f, -0.4f / 0.2f], [2, 4, 4]);
    }

    // a fixed crop: shift by (1, 0) — content moves one pixel left, the last column is padding
    private sealed class ShiftLeft : IAugmentation
    {
        public void Apply(Span<float> image, Span<float> scratch, ImageShape shape, Rng rng) => RandomCropPad.Crop(image, scratch, shape, 1, 0);
    }

    [Fact]
    public void PaddingIsBlackInPixelUnitsOfAStandardisedDataSet()
    {
        var data = Standardised(3);
        var order = InMemoryDataset.Identity(3);
        var plain = data.Gather(order, 0, 3).X.ToArray();
        var batch = data.Gather(order, 0, 3);
        new BatchAugmenter(new ShiftLeft(), new ImageShape(2, 4, 4), new Rng(1)).Apply(batch, data, 0, 0);
        var aug = batch.X.ToArray();
        float[] black = [-0.5f / 0.3f, -0.4f / 0.2f];   // pixel 0 after standardisation: −mean/std
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 2; c++)
                for (int y = 0; y < 4; y++)
                    for (int x = 0; x < 4; x++)
                    {
                        int i = r * 32 + c * 16 + y * 4 + x;
                        if (x == 3) Assert.Equal(black[c], aug[i], 5);
                        else Assert.Equal(plain[i + 1], aug[i], 5);   // the content, one pixel to the left, back in data units
                    }
    }

    [Fact]
    public void TheSameEpochAndBatchGiveTheSameTransformsAndOthersDiffer()
    {
        var data = Standardised(8);
        var order = InMemoryDataset.Identity(8);
        var aug = AugmentationConfig.CropAndFlip.Build()!;
        float[] Run(ulong seed, int epoch, int batch, int offset = 0)
        {
            var b = data.Gather(order, 0, 8);
            new BatchAugmenter(aug, new ImageShape(2, 4, 4), new Rng(seed)) { EpochOffset = offset }.Apply(b, data, epoch, batch);
            return b.X.ToArray();
        }
        Assert.Equal(Run(1, 2, 3), Run(1, 2, 3));
        Assert.Equal(Run(1, 2, 3), Run(1, 0, 3, offset: 2));   // a phase's epoch 0 after 2 epochs of the run is the run's epoch 2
        Assert.NotEqual(Run(1, 2, 3), Run(1, 3, 3));
        Assert.NotEqual(Run(1, 2, 3), Run(1, 2, 4));
        Assert.NotEqual(Run(1, 2, 3), Run(2, 2, 3));
    }

    [Fact]
    public void ConfigsRoundTripValidateAndDescribeThemselves()
    {
        var cfg = new GrowthRunConfig([32, 4, 2], GrowthSchedule.FromTotals(2), InputShape: [2, 4, 4], Augmentation: AugmentationConfig.CropAndFlip);
        string json = cfg.ToJson();
        Assert.Contains("\"cropPadding\": 4", json);
        Assert.Equal(cfg.Augmentation, GrowthRunConfig.FromJson(json).Augmentation);
        Assert.DoesNotContain("augmentation", (cfg with { Augmentation = null }).ToJson());
        Assert.Equal("random crop with 4 px padding, left–right flip p 0.5", AugmentationConfig.CropAndFlip.ToString());
        Assert.Null(new AugmentationConfig().Build());
        Assert.IsType<Compose>(new AugmentationConfig(2, 0.5, 0.1, 10, 0.01).Build());
        Assert.Contains("flip", Assert.Throws<ArgumentException>(() => new AugmentationConfig(Flip: 2).Validate()).Message);
        Assert.Contains("cropPadding", Assert.Throws<ArgumentException>(() => new AugmentationConfig(CropPadding: 100_000).Validate()).Message);
        Assert.Contains("inputShape", Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg with { InputShape = null })).Message);
    }

    [Fact]
    public void AnAugmentedGrowthRunIsReproducibleAndDiffersFromAPlainOne()
    {
        var data = Standardised(64);
        var cfg = new GrowthRunConfig([32, 6, 2], GrowthSchedule.FromTotals(2), GrowthMethods.Extender("kaiming"), GrowthMethods.Distributor("ras"),
            new StageTraining(2), new StageTraining(1), BatchSize: 16, Seed: 5, DiagnosticBatch: 16, InputShape: [2, 4, 4],
            Model: new Sprout.Nn.SequentialConfig([new Sprout.Nn.FlattenConfig(), .. Sprout.Nn.SequentialConfig.Mlp([32, 6, 2], Sprout.Nn.ActivationConfig.Relu).Layers]),
            Augmentation: new AugmentationConfig(CropPadding: 1, Flip: 0.5));
        float[] Final(GrowthRunConfig c)
        {
            var runner = new GrowthRunner(c);
            runner.Run(data, data, data);
            return runner.Model!.CopyWeights().SelectMany(w => w).ToArray();
        }
        var a = Final(cfg);
        Assert.Equal(a, Final(cfg));
        Assert.NotEqual(a, Final(cfg with { Augmentation = null }));
    }
}
