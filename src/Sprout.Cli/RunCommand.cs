using System.Diagnostics;
using Sprout.Data;
using Sprout.Experiments;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;

namespace Sprout.Cli;

/// <summary>The main job. Until growth lands it trains an MLP on generated two-spirals data.</summary>
internal static class RunCommand
{
    public static int Execute(string[] argv)
    {
        var a = new Args(argv, new HashSet<string>());
        int epochs = a.Int("epochs", 40, 1, 100000);
        ulong seed = a.Seed(0);
        int threads = Cli.ApplyThreads(a);
        a.RejectUnknown();

        var rng = new Rng(seed);
        var (x, y) = Synthetic.TwoSpirals(4000, rng.Fork("train-data"));
        var (xt, yt) = Synthetic.TwoSpirals(2000, rng.Fork("test-data"));
        var config = SequentialConfig.Mlp([2, 64, 64, 2], ActivationConfig.Relu);
        var model = config.Build(rng.Fork("init"));
        var opt = new Adam(model.Parameters(), 0.01);
        var train = new ArrayTrainer(x, y, 2);
        var test = new ArrayTrainer(xt, yt, 2);
        var shuffle = rng.Fork("shuffle");
        Console.WriteLine($"two spirals: {train.Count} train / {test.Count} test, model {model}, {model.ParameterCount()} parameters, seed {seed}, {threads} thread(s)");
        var sw = Stopwatch.StartNew();
        for (int e = 1; e <= epochs; e++)
        {
            var st = train.TrainEpoch(model, opt, shuffle.Permutation(train.Count), 32);
            var ev = test.Evaluate(model);
            Console.WriteLine($"epoch {e,3}  train loss {st.Loss:F4} acc {st.Accuracy * 100:F2}%  test loss {ev.Loss:F4} acc {ev.Accuracy * 100:F2}%");
        }
        Console.WriteLine($"done in {sw.Elapsed.TotalSeconds:F2} s; final test accuracy {test.Evaluate(model).Accuracy * 100:F2}%");
        return 0;
    }
}
