using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Training;

[Collection("Workers")]
public class TrainerTests
{
    // features in [−1, 1] with labels from a fixed random linear rule (learnable)
    private static InMemoryDataset Classes(int n, int features, int classes, ulong seed) => Growth.GrowthFixtures.Random(n, features, classes, seed);

    private static float[][] Weights(Module m) => m.Parameters().Select(p => p.ToArray()).ToArray();

    private static void AssertBitIdentical(float[][] a, float[][] b) => Growth.GrowthFixtures.AssertBitIdentical(a, b);

    [Fact]
    public void MseAutoencoderLearnsToReconstructItsInput()
    {
        // 12 features that are linear mixes of 3 latent values: a 3-wide bottleneck can reconstruct them
        var rng = new Rng(21);
        int n = 600, f = 12;
        var mix = new float[3 * f];
        rng.FillNormal(mix, 0, 1);
        var x = new float[n * f];
        var z = new float[3];
        for (int i = 0; i < n; i++)
        {
            rng.FillNormal(z, 0, 1);
            for (int k = 0; k < f; k++) x[i * f + k] = 0.3f * (z[0] * mix[k] + z[1] * mix[f + k] + z[2] * mix[2 * f + k]);
        }
        var data = new InMemoryDataset(x, null, f).WithInputAsTarget();
        var batch = data.Gather(InMemoryDataset.Identity(n), 0, 50);
        Assert.Same(batch.X, batch.Target);                 // the target is the input, not a copy
        Assert.False(batch.HasLabels);

        var model = new SequentialConfig([new LinearConfig(f, 3), new LinearConfig(3, f)]).Build(rng.Fork("init"));
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01), Loss.Mse);
        var before = trainer.Evaluate(data);
        Assert.True(double.IsNaN(before.Accuracy));         // MSE has no accuracy
        trainer.Fit(data, rng.Fork("shuffle"), 50, 40);
        var after = trainer.Evaluate(data);
        Assert.True(after.Loss < 0.05 * before.Loss, $"reconstruction loss {before.Loss:F4} → {after.Loss:F4}");

        // the same loss as a custom function gives the same run bit for bit
        float[][] Run(Loss loss)
        {
            var m = new SequentialConfig([new LinearConfig(f, 3), new LinearConfig(3, f)]).Build(new Rng(5));
            new Trainer(m, new Adam(m.Parameters(), 0.01), loss).Fit(data, new Rng(6), 50, 2);
            return Weights(m);
        }
        AssertBitIdentical(Run(Loss.Mse), Run(Loss.Custom("my mse", (output, b) => Ops.Mse(output, b.Target))));
    }

    [Fact]
    public void FloatTargetsAreGatheredWithTheirRows()
    {
        var x = Enumerable.Range(0, 10 * 3).Select(i => (float)i).ToArray();
        var t = Enumerable.Range(0, 10 * 2).Select(i => -(float)i).ToArray();
        var data = new InMemoryDataset(x, null, 3).WithTargets(t, 2);
        var b = data.Gather([7, 2, 9], 0, 3);
        Assert.Equal([-14f, -15f, -4f, -5f, -18f, -19f], b.Target.ToArray());
        Assert.Equal([21f, 22f, 23f, 6f, 7f, 8f, 27f, 28f, 29f], b.X.ToArray());
        var sub = data.Subset([9, 7]);
        Assert.Equal([-18f, -19f, -14f, -15f], sub.Targets!);
        Assert.Throws<InvalidOperationException>(() => new Trainer(new LinearConfig(3, 2).Build(new Rng(1))).Evaluate(data)); // no labels for cross-entropy
    }

    [Fact]
    public void ParameterSubsetLeavesFrozenWeightsBitIdentical()
    {
        var data = Classes(300, 5, 3, 1);
        var model = (Sequential)SequentialConfig.Mlp([5, 8, 3], ActivationConfig.Relu).Build(new Rng(2));
        var first = (Linear)model.Layers[0];
        var last = (Linear)model.Layers[2];
        var frozenBefore = new[] { first.Weight.ToArray(), first.Bias!.ToArray() };
        var lastBefore = last.Weight.ToArray();
        // AdamW over every parameter: its weight decay would move the frozen ones too if they were stepped
        var trainer = new Trainer(model, new AdamW(model.Parameters(), 0.05, weightDecay: 0.1)) { Trainable = [last.Weight, last.Bias!] };
        trainer.TrainEpoch(data, new Rng(3).Permutation(data.Count), 32);
        trainer.Step(data.Head(32));
        AssertBitIdentical(frozenBefore, [first.Weight.ToArray(), first.Bias.ToArray()]);
        Assert.NotEqual(lastBefore, last.Weight.ToArray());
        Assert.All(model.Parameters(), p => Assert.True(p.RequiresGrad));   // unfrozen afterwards
        using (trainer.Freeze())
        {
            Assert.False(first.Weight.RequiresGrad);
            Assert.True(last.Weight.RequiresGrad);
        }
        Assert.True(first.Weight.RequiresGrad);
    }

    [Fact]
    public void LrScheduleSetsTheRatePerEpochOrPerStep()
    {
        var data = Classes(100, 4, 2, 4);
        var model = SequentialConfig.Mlp([4, 6, 2], ActivationConfig.Relu).Build(new Rng(5));
        var opt = new Sgd(model.Parameters(), 0.2);
        var epochs = new List<EpochEnd>();
        var trainer = new Trainer(model, opt) { Schedule = new StepLr(1, 0.5) }.Add(new MetricsSink(epochs.Add));
        trainer.Fit(data, new Rng(6), 25, 3);
        Assert.Equal([0.2, 0.1, 0.05], epochs.Select(e => e.LearningRate));
        Assert.Equal([0, 1, 2], epochs.Select(e => e.Epoch));

        var perStep = new List<double>();
        var stepped = new Trainer(model, new Sgd(model.Parameters(), 0.2)) { Schedule = new CosineLr(8), ScheduleUnit = ScheduleUnit.Step }
            .Add(new StepSpy((t, s) => perStep.Add(t.Optimizer!.LearningRate)));
        stepped.Fit(data, new Rng(7), 25, 2);
        Assert.Equal(Enumerable.Range(0, 8).Select(t => 0.2 * new CosineLr(8).Factor(t)), perStep);
    }

    [Fact]
    public void ClippingBoundsTheGradientNorm()
    {
        var data = Classes(64, 6, 3, 8);
        var model = SequentialConfig.Mlp([6, 10, 3], ActivationConfig.Relu).Build(new Rng(9));
        var trainer = new Trainer(model, new Sgd(model.Parameters(), 0.1)) { ClipNorm = 0.01 };
        var before = Weights(model);
        trainer.Step(data.Head(64));
        Assert.True(trainer.LastGradNorm > 0.01, $"the test needs a gradient larger than the bound ({trainer.LastGradNorm})");
        double sq = model.Parameters().Sum(p => p.Grad!.ToArray().Sum(g => (double)g * g));
        Assert.InRange(Math.Sqrt(sq), 0.0099, 0.01);
        // SGD moved the weights by lr × the clipped gradient
        var after = Weights(model);
        var grads = model.Parameters().Select(p => p.Grad!.ToArray()).ToArray();
        for (int i = 0; i < before.Length; i++)
            for (int k = 0; k < before[i].Length; k++) Assert.Equal(before[i][k] - 0.1f * grads[i][k], after[i][k], 6);
    }

    [Fact]
    public void EarlyStoppingRestoresTheBestValidationWeights()
    {
        // random labels: the net memorises the training set and the validation loss soon rises
        var rng = new Rng(10);
        var train = Classes(200, 8, 3, 11);
        var noisy = new InMemoryDataset(train.X, train.Labels!.Select(_ => rng.NextInt(3)).ToArray(), 8);
        var val = Classes(200, 8, 3, 12);
        var model = SequentialConfig.Mlp([8, 64, 3], ActivationConfig.Relu).Build(new Rng(13));
        var es = new EarlyStopping(model, patience: 2);
        var perEpoch = new List<(double Val, float[][] Weights)>();
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.02)) { Validation = val }
            .Add(es)
            .Add(new MetricsSink(e => perEpoch.Add((e.Validation!.Value.Loss, Weights(model)))));
        int epochs = trainer.Fit(noisy, new Rng(14), 20, 30);
        Assert.True(epochs < 30, "validation loss should stop improving");
        Assert.Equal(epochs, perEpoch.Count);
        int best = perEpoch.Select((p, i) => (p.Val, i)).Min().i;
        Assert.Equal(best, es.BestEpoch);
        Assert.Equal(epochs - 1 - es.Patience, best);
        AssertBitIdentical(perEpoch[best].Weights, Weights(model));
        Assert.Equal(perEpoch[best].Val, trainer.Evaluate(val).Loss, 12);

        // its state can be read and given to a new instance, which continues exactly
        var state = es.State;
        Assert.Equal((perEpoch[best].Val, best, epochs, es.Patience), (state.BestLoss, state.BestEpoch, state.Epochs, state.EpochsSinceBest));
        var copy = new EarlyStopping(model, 2);
        copy.Restore(state with { Best = ParameterSnapshot.FromEntries(model, state.Best!.Entries) });
        model.Parameters().First().Span.Clear();
        copy.RestoreBest();
        AssertBitIdentical(perEpoch[best].Weights, Weights(model));
        Assert.True(copy.Update(state.BestLoss + 1));        // patience already spent
    }

    [Fact]
    public void NonFiniteLossThrowsBeforeTheStepAndLeavesTheWeights()
    {
        var data = Classes(96, 4, 3, 15);
        var x = (float[])data.X.Clone();
        var order = InMemoryDataset.Identity(96);
        x[2 * 32 * 4 + 5] = float.NaN;                      // a sample of the third batch
        var poisoned = new InMemoryDataset(x, data.Labels, 4);
        var model = SequentialConfig.Mlp([4, 8, 3], ActivationConfig.Relu).Build(new Rng(16));
        float[][]? afterGoodSteps = null;
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01)) { Name = "the poisoned run" }
            .Add(new StepSpy((t, s) => afterGoodSteps = Weights(model)));
        var e = Assert.Throws<TrainingDivergedException>(() => trainer.TrainEpoch(poisoned, order, 32));
        Assert.Contains("loss became NaN in the poisoned run at batch 2 of epoch 0", e.Message);
        Assert.Equal(2, trainer.GlobalStep);
        AssertBitIdentical(afterGoodSteps!, Weights(model));
    }

    [Fact]
    public void AnEpochResumedAtABatchEndsBitIdenticalToAnUninterruptedOne()
    {
        var data = Classes(250, 6, 3, 17);
        var order = new Rng(18).Permutation(data.Count);
        (float[][] Weights, EpochStats Stats, Trainer Trainer) Run(int stopAfter)
        {
            var model = SequentialConfig.Mlp([6, 12, 3], ActivationConfig.Relu).Build(new Rng(19));
            var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01));
            trainer.TrainEpoch(data, new Rng(20).Permutation(data.Count), 32);   // state from an earlier epoch
            if (stopAfter < 0)
            {
                var all = trainer.TrainEpoch(data, order, 32);
                return (Weights(model), all, trainer);
            }
            var stopper = new StepSpy((t, s) => { if (s.Batch + 1 == stopAfter) t.RequestStop(); });
            trainer.Add(stopper);
            var partial = trainer.TrainEpoch(data, order, 32);
            Assert.Equal(stopAfter, trainer.NextBatch);          // honoured at the next batch boundary
            Assert.Equal(stopAfter * 32, partial.Samples);
            Assert.Equal(1, trainer.Epoch);                      // the interrupted epoch does not count
            trainer.Remove(stopper);
            trainer.Stop.Clear();
            var stats = trainer.TrainEpoch(data, order, 32, trainer.NextBatch, trainer.Running);
            return (Weights(model), stats, trainer);
        }
        var full = Run(-1);
        foreach (int k in new[] { 1, 3, 7 })
        {
            var resumed = Run(k);
            AssertBitIdentical(full.Weights, resumed.Weights);
            Assert.Equal(full.Stats, resumed.Stats);             // loss sum, correct count, samples: exact
            Assert.Equal(full.Trainer.GlobalStep, resumed.Trainer.GlobalStep);
            Assert.Equal(2, resumed.Trainer.Epoch);
        }
    }

    [Fact]
    public void CallbacksRunInOrderAtEachPoint()
    {
        var data = Classes(90, 4, 3, 21);
        var model = SequentialConfig.Mlp([4, 5, 3], ActivationConfig.Relu).Build(new Rng(22));
        var log = new List<string>();
        var saves = new List<(int Epoch, int NextBatch, long Step)>();
        var progress = new List<Progress>();
        var trainer = new Trainer(model, new Adam(model.Parameters(), 0.01))
            .Add(new Recorder("a", log))
            .Add(new Recorder("b", log))
            .Add(new CheckpointCallback(t => saves.Add((t.Epoch, t.NextBatch, t.GlobalStep)), everyEpochs: 1, everySteps: 2))
            .Add(new ProgressCallback(progress.Add, every: 2));
        Assert.Equal(2, trainer.Fit(data, new Rng(23), 30, 2));
        var expected = new List<string>();
        for (int e = 0; e < 2; e++)
        {
            expected.AddRange(["a start " + e, "b start " + e]);
            for (int k = 0; k < 3; k++) expected.AddRange([$"a step {e}.{k}", $"b step {e}.{k}"]);
            expected.AddRange([$"a end {e}", $"b end {e}"]);
        }
        expected.AddRange(["a train end False", "b train end False"]);
        Assert.Equal(expected, log);
        // every 2 steps mid-epoch (steps 2 and 4; step 6 is an epoch's last batch) and after each epoch
        Assert.Equal([(0, 2, 2L), (1, 0, 3L), (1, 1, 4L), (2, 0, 6L)], saves);
        Assert.Equal([(0, 2, 3), (0, 3, 3), (1, 2, 3), (1, 3, 3)], progress.Select(p => (p.Epoch, p.Batch, p.Batches)));
        Assert.All(progress, p => Assert.True(p.Loss > 0 && p.Accuracy is >= 0 and <= 1));
    }

    [Fact]
    public void GradientPassComputesGradientsWithoutAnUpdate()
    {
        var data = Classes(40, 3, 2, 24);
        var model = SequentialConfig.Mlp([3, 4, 2], ActivationConfig.Relu).Build(new Rng(25));
        var before = Weights(model);
        var batch = data.Head(40);
        float loss = new Trainer(model).Backward(batch);
        AssertBitIdentical(before, Weights(model));
        var g = model.Parameters().Select(p => p.Grad!.ToArray()).ToArray();
        model.ZeroGrad();
        using (TensorScope.Begin())
        {
            var l = Ops.CrossEntropy(model.Forward(batch.X), batch.Labels);
            Assert.Equal(l.Item(), loss);
            l.Backward();
        }
        AssertBitIdentical(g, model.Parameters().Select(p => p.Grad!.ToArray()).ToArray());
        Assert.Throws<InvalidOperationException>(() => new Trainer(model).Step(batch));   // no optimizer: no update
    }

    private sealed class StepSpy(Action<Trainer, StepEnd> onStep) : ITrainingCallback
    {
        public void OnStepEnd(Trainer trainer, in StepEnd step) => onStep(trainer, step);
    }

    private sealed class Recorder(string name, List<string> log) : ITrainingCallback
    {
        public void OnEpochStart(Trainer trainer) => log.Add($"{name} start {trainer.Epoch}");
        public void OnStepEnd(Trainer trainer, in StepEnd step) => log.Add($"{name} step {step.Epoch}.{step.Batch}");
        public void OnEpochEnd(Trainer trainer, in EpochEnd epoch) => log.Add($"{name} end {epoch.Epoch}");
        public void OnTrainEnd(Trainer trainer, bool interrupted) => log.Add($"{name} train end {interrupted}");
    }
}
