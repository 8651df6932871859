using Sprout.Data;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Tests.Data;
using Xunit;
using static Sprout.Tests.Cli.CliHarness;

namespace Sprout.Tests.Cli;

/// <summary><c>sprout gradcam</c>: heat maps of a checkpoint's evidence over test images, and one clear line on bad input.</summary>
[Collection("Workers")]
public class GradCamCliTests
{
    // a CIFAR-10 folder of the real binary format (20 test images) and a small conv model for it
    private static (TempDir Data, TempDir Out, string Checkpoint) Setup(bool conv = true)
    {
        var data = Fixtures.Cifar10Folder(perBatch: 4, test: 20);
        var cfg = conv
            ? new SequentialConfig([
                new Conv2dConfig(3, 4, 3, 2, 1), ActivationConfig.Relu, new Conv2dConfig(4, 6, 3, 2, 1), new BatchNormConfig(6), ActivationConfig.Relu,
                new PoolConfig(PoolKind.AdaptiveAverage), new FlattenConfig(), new LinearConfig(6, 10)])
            : new SequentialConfig([new FlattenConfig(), new LinearConfig(3 * 32 * 32, 10)]);
        var output = new TempDir();
        string ck = Path.Combine(output.Path, "model.ckpt");
        Checkpoint.Save(cfg.Build(new Rng(3)), ck);
        return (data, output, ck);
    }

    [Fact]
    public void WritesTheFigureAndTheSummaryForTheChosenImages()
    {
        var (data, output, ck) = Setup();
        using (data)
        using (output)
        {
            string outDir = Path.Combine(output.Path, "maps");
            var (code, stdout, err) = Run("gradcam", ck, "--dataset", "cifar10", "--data-dir", data.Path, "--images", "0,3,19", "--out", outDir, "--json");
            Assert.True(code == 0, err);
            using var doc = System.Text.Json.JsonDocument.Parse(stdout);
            var images = doc.RootElement.GetProperty("images").EnumerateArray().ToArray();
            Assert.Equal([0, 3, 19], images.Select(i => i.GetProperty("index").GetInt32()));
            Assert.Equal([0, 3, 9], images.Select(i => i.GetProperty("label").GetInt32()));   // the fixture's labels
            Assert.All(images, i => Assert.InRange(i.GetProperty("predicted").GetInt32(), 0, 9));
            Assert.Equal(4, doc.RootElement.GetProperty("layer").GetInt32());                 // the last conv block's ReLU
            var png = File.ReadAllBytes(Path.Combine(outDir, "gradcam.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
            Assert.Contains("<svg", File.ReadAllText(Path.Combine(outDir, "gradcam.svg")), StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(outDir, "gradcam.json")));
            // a named layer: the first conv's ReLU
            (code, stdout, err) = Run("gradcam", ck, "--dataset", "cifar10", "--data-dir", data.Path, "--images", "1", "--layer", "1", "--out", outDir);
            Assert.True(code == 0, err);
            Assert.Contains("layer 1", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void BadInputGetsOneClearLine()
    {
        var (data, output, ck) = Setup();
        using (data)
        using (output)
        {
            var (code, _, err) = Run("gradcam", ck, "--dataset", "cifar10", "--data-dir", data.Path, "--images", "20");
            Assert.NotEqual(0, code);
            AssertOneLineError(err, "not an index of the test set");
            (code, _, err) = Run("gradcam", ck, "--dataset", "cifar10", "--data-dir", data.Path, "--layer", "6");
            Assert.NotEqual(0, code);
            AssertOneLineError(err, "rank");                                  // after Flatten: no spatial map
            (code, _, err) = Run("gradcam", ck, "--dataset", "cifar10", "--data-dir", data.Path, "--layer", "7");
            Assert.NotEqual(0, code);
            AssertOneLineError(err, "--layer must be below 7");
            string junk = Path.Combine(output.Path, "junk.ckpt");
            File.WriteAllText(junk, "not a checkpoint");
            (code, _, err) = Run("gradcam", junk, "--dataset", "cifar10", "--data-dir", data.Path);
            Assert.NotEqual(0, code);
            Assert.Single(err.Trim().Split('\n'));
        }
        var (data2, output2, flat) = Setup(conv: false);
        using (data2)
        using (output2)
        {
            var (code, _, err) = Run("gradcam", flat, "--dataset", "cifar10", "--data-dir", data2.Path);
            Assert.NotEqual(0, code);
            AssertOneLineError(err, "no conv layer");
        }
    }
}
