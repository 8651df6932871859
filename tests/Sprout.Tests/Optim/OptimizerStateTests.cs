using Sprout.Autograd;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Optim;

/// <summary>Training after saving and loading model + optimizer + RNG state continues bit for bit.</summary>
public class OptimizerStateTests
{
    private static readonly SequentialConfig Config = SequentialConfig.Mlp([5, 7, 3], ActivationConfig.Relu);

    private static Optimizer Make(string kind, Module m) => kind switch
    {
        "sgd" => new Sgd(m.Parameters(), 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3),
        "sgd-damp" => new Sgd(m.Parameters(), 0.05, momentum: 0.8, dampening: 0.1),
        "adam" => new Adam(m.Parameters(), 0.01, weightDecay: 1e-4),
        "adamw" => new AdamW(m.Parameters(), 0.01),
        "rmsprop" => new RmsProp(m.Parameters(), 0.01, momentum: 0.5, centered: true),
        _ => throw new ArgumentException(kind),
    };

    /// <summary>One step on a batch drawn from <paramref name="data"/> (so the data stream is state too).</summary>
    private static void Step(Module m, Optimizer opt, Rng data)
    {
        var x = Tensor.Uniform(data, -1, 1, 8, 5);
        var y = Enumerable.Range(0, 8).Select(_ => data.NextInt(3)).ToArray();
        opt.ZeroGrad();
        using (TensorScope.Begin())
        {
            var loss = Ops.CrossEntropy(m.Forward(x), y);
            loss.Backward();
        }
        opt.Step();
    }

    private static float[] Weights(Module m) => m.Parameters().SelectMany(p => p.ToArray()).ToArray();

    [Theory]
    [InlineData("sgd")]
    [InlineData("sgd-damp")]
    [InlineData("adam")]
    [InlineData("adamw")]
    [InlineData("rmsprop")]
    public void TrainingAfterASaveAndLoadContinuesBitIdentically(string kind)
    {
        var net = Config.Build(new Rng(1));
        var opt = Make(kind, net);
        var data = new Rng(2).Fork("data");
        for (int i = 0; i < 5; i++) Step(net, opt, data);
        // grow a layer after the last step: the saved optimizer state is smaller than the parameters it belongs to
        new GrowableModel((Sequential)net).Sites[0].Grow(2);
        opt.LearningRate *= 0.5;
        string path = Path.Combine(Path.GetTempPath(), "sprout-opt-" + Guid.NewGuid().ToString("N") + ".ckpt");
        try
        {
            var ck = new CheckpointFile().AddModule("model/", net).AddOptimizer("optim/", opt, net);
            ck.AddRng("rng/data", data);
            ck.Save(path);
            for (int i = 0; i < 6; i++) Step(net, opt, data);
            var expected = Weights(net);

            var back = CheckpointFile.Load(path);
            var net2 = back.BuildModule("model/");
            var opt2 = Make(kind, net2);
            back.LoadOptimizer("optim/", opt2, net2);
            var data2 = back.GetRng("rng/data");
            Assert.Equal(opt.LearningRate, opt2.LearningRate);
            for (int i = 0; i < 6; i++) Step(net2, opt2, data2);
            Assert.Equal(expected, Weights(net2));
            foreach (var ((_, p1), (_, p2)) in net.NamedParameters().Zip(net2.NamedParameters()))
            {
                Assert.Equal(opt.StateOf(p1)!.Step, opt2.StateOf(p2)!.Step);
                for (int s = 0; s < opt.StateOf(p1)!.Slots.Length; s++) Assert.Equal(opt.StateOf(p1)!.Slots[s], opt2.StateOf(p2)!.Slots[s]);
            }
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void MismatchedOptimizerStateIsACheckpointError()
    {
        var net = Config.Build(new Rng(1));
        var adam = new Adam(net.Parameters(), 0.01);
        Step(net, adam, new Rng(3));
        var ck = new CheckpointFile().AddModule("", net).AddOptimizer("optim/", adam, net);
        Assert.Contains("holds Adam state", Assert.Throws<CheckpointException>(() => ck.LoadOptimizer("optim/", new Sgd(net.Parameters(), 0.1), net)).Message);
        var other = SequentialConfig.Mlp([5, 3], ActivationConfig.Relu).Build(new Rng(1));
        Assert.Throws<CheckpointException>(() => ck.LoadOptimizer("optim/", new Adam(other.Parameters(), 0.01), other));
        ck.Metadata["optim/steps"] = "{not json";
        Assert.Contains("steps are malformed", Assert.Throws<CheckpointException>(() => ck.LoadOptimizer("optim/", new Adam(net.Parameters()), net)).Message);
        Assert.Equal(["exp_avg", "exp_avg_sq"], adam.SlotNames);
    }
}
