using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Nn;

public class CheckpointTests
{
    private static string TempFile() => Path.Combine(Path.GetTempPath(), "sprout-ck-" + Guid.NewGuid().ToString("N") + ".bin");

    [Fact]
    public void RoundTripRestoresEveryParameterAndBuffer()
    {
        var cfg = Models.SweBackbone(10, [8], imageSize: 8);
        var a = cfg.Build(new Rng(1));
        var bn = (BatchNorm)a.NamedModules().First(m => m.Module is BatchNorm).Module;
        bn.RunningMean[0] = 3.5f;
        string path = TempFile();
        try
        {
            Checkpoint.Save(a, path);
            var b = cfg.Build(new Rng(2)); // different initial weights
            Checkpoint.Load(b, path);
            Assert.Equal(a.NamedParameters().Select(p => p.Parameter.ToArray()), b.NamedParameters().Select(p => p.Parameter.ToArray()));
            Assert.Equal(a.NamedBuffers().Select(p => p.Buffer.ToArray()), b.NamedBuffers().Select(p => p.Buffer.ToArray()));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AGrownNetworkIsRebuiltFromItsInitialConfig()
    {
        var cfg = SequentialConfig.Mlp([6, 4, 3], ActivationConfig.Relu);
        var grown = (Sequential)cfg.Build(new Rng(1));
        new GrowableModel(grown).Sites[0].Grow(5);
        var x = Tensor.Uniform(new Rng(3), -1, 1, 2, 6);
        var before = grown.Forward(x).ToArray();
        string path = TempFile();
        try
        {
            Checkpoint.Save(grown, path);
            var fresh = cfg.Build(new Rng(9));
            Checkpoint.Load(fresh, path);
            Assert.Equal(9, ((Linear)((Sequential)fresh).Layers[0]).OutFeatures);
            Assert.Equal(before, fresh.Forward(x).ToArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BadFilesGiveClearErrors()
    {
        var m = SequentialConfig.Mlp([3, 2], ActivationConfig.Relu).Build(new Rng(1));
        string path = TempFile();
        try
        {
            Assert.Contains("file not found", Assert.Throws<CheckpointException>(() => Checkpoint.Load(m, path)).Message);
            File.WriteAllText(path, "hello, not a checkpoint at all");
            Assert.Contains("bad magic", Assert.Throws<CheckpointException>(() => Checkpoint.Load(m, path)).Message);
            Checkpoint.Save(m, path);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^5]); // truncated
            Assert.Contains("checksum", Assert.Throws<CheckpointException>(() => Checkpoint.Load(m, path)).Message);
            Checkpoint.Save(m, path);
            var other = SequentialConfig.Mlp([4, 2], ActivationConfig.Relu).Build(new Rng(1));
            var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(other, path));
            Assert.Contains("0.weight", e.Message); // names the tensor that does not fit
            Assert.Contains(path, e.Message);
        }
        finally { File.Delete(path); }
    }
}
