using System.Text.Json;
using Sprout.Data;
using Sprout.Diagnostics;
using Sprout.Experiments;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Tests.Data;
using Sprout.Tests.Reporting;
using Sprout.Training;
using Xunit;
using RunData = Sprout.Runs.RunData;

namespace Sprout.Tests.Experiments;

/// <summary>
/// <c>experiment wib-relu</c> (paper 004): its options, and a tiny run on a generated CIFAR-10 of the real format — a run
/// folder per arm, the activation statistics of the first and last step equal to a direct measurement of the initial and
/// final weights, the report beside the paper's Fashion-MNIST numbers with Figures 7–13, and a rerun read back.
/// </summary>
[Collection("Workers")]
public class WibReluExperimentTests
{
    [Fact]
    public void PresetsFollowThePaperAndBadOptionsAreRefusedInOneLine()
    {
        var quick = WibReluOptions.Quick(["fashion-mnist"]);
        quick.Validate();
        var arms = quick.Arms();
        // 8 activations at Kaiming, then ReLU and both WIB-ReLU readings with the 3 other inits (their Kaiming arms are shared)
        Assert.Equal(8 + 9, arms.Count);
        Assert.Equal(arms.Count, arms.Select(a => a.Folder).Distinct().Count());
        Assert.Contains(new WibArm("relu", "pytorch"), arms);
        var paper = WibReluOptions.Paper(["fashion-mnist", "cifar10"]);
        paper.Validate();
        Assert.Equal((20, 256, 0, 0), (paper.Epochs, paper.BatchSize, paper.TrainSamples, paper.TestSamples));
        Assert.Equal(new[] { "paper", "code" }, paper.Models);
        Assert.Equal(InitScheme.UniformGainSqrt3, WibReluOptions.Init("sqrt3"));
        Assert.Equal(WibVariant.PostMean, WibReluOptions.Activation("wib-post").Wib);

        void Bad(WibReluOptions o, string message)
        {
            var e = Assert.Throws<ArgumentException>(o.Validate);
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
        Bad(quick with { Models = ["resnet"] }, "unknown model 'resnet'");
        Bad(quick with { Activations = ["gelu"] }, "unknown activation 'gelu'");
        Bad(quick with { Inits = ["orthogonal"] }, "unknown initialisation 'orthogonal'");
        Bad(quick with { Activations = [], InitStudyActivations = [] }, "no arm to run");
        Bad(quick with { Epochs = 0 }, "--epochs");
        Bad(quick with { LearningRate = 0 }, "--lr");
        Bad(quick with { NearZeroStd = -1 }, "--near-zero-std");
        Bad(quick with { Datasets = ["imagenet"] }, "unknown data set 'imagenet'");
    }

    [Fact]
    public void ATinyCifarRunRecordsTheStatisticsReportsBesideThePaperAndReadsBackOnARerun()
    {
        using var data = Fixtures.Cifar10Folder();
        using var dir = new ReportDir("wib-relu");
        var o = WibReluOptions.Quick(["cifar10"]) with
        {
            Activations = ["relu", "wib-relu"], InitStudyActivations = ["relu"], Inits = ["pytorch", "sqrt3"], TrainSamples = 0, TestSamples = 0,
            Epochs = 2, BatchSize = 25, StatsEveryStepUntil = 3, StatsThenEvery = 2, ProbeSamples = 16,
        };
        (InMemoryDataset, InMemoryDataset) Load(string ds) => RunData.Load(ds, data.Path, null, InputScaling.Standardize);
        var runs = WibReluExperiment.Run(o, Load, dir.Path);
        Assert.Equal(new[] { "relu-kaiming", "wib-relu-kaiming", "relu-pytorch", "relu-sqrt3" }, runs.Select(r => r.Arm.Folder));
        var (train, _) = Load("cifar10");
        var probe = new Tensor(train.Head(16).X.ToArray(), 16, 3, 32, 32);
        foreach (var r in runs)
        {
            var rec = Assert.IsType<WibRecord>(Assert.Single(r.Records));
            Assert.Equal([1, 2], rec.Epochs.Select(e => e.Epoch));
            Assert.All(rec.Epochs, e => Assert.InRange(e.ValAccuracy, 0, 1));
            // 100 images in batches of 25: 4 steps an epoch; every step up to 3, then every 2nd
            Assert.Equal(new long[] { 0, 1, 2, 3, 4, 6, 8 }, rec.Activations.Select(a => a.Step));
            Assert.Equal(new[] { "conv1", "conv2", "conv3", "conv4" }, rec.Activations[0].Layers.Select(l => l.Layer));
            string seed0 = ExperimentRuns.SeedFolder(WibReluExperiment.GroupFolder(dir.Path, "cifar10", "paper", r.Arm), 0);
            var cfg = WibReluExperiment.RunConfigFor(o, "cifar10", "paper", r.Arm, 0, 10);
            var (layers, names) = WibReluExperiment.MeasuredLayers(cfg.Growth.Model!);
            // step 0: the initial weights (the run's init stream); the last step: the final checkpoint
            var initial = (Sequential)cfg.Growth.Model!.Build(new Rng(0).Fork("init"));
            Assert.Equal(ActivationStats.Measure(initial, probe, layers, o.NearZeroStd, names), rec.Activations[0].Layers);
            var final = (Sequential)CheckpointFile.Load(RunFiles.LastCheckpoint(seed0)).BuildModule("model/");
            Assert.Equal(ActivationStats.Measure(final, probe, layers, o.NearZeroStd, names), rec.Activations[^1].Layers);
        }
        // PyTorch's default init shrinks the activations layer by layer (std ≈ ×0.4 per layer); gain √3 does not
        var std0 = runs.Single(r => r.Arm.Folder == "relu-pytorch").Records[0]!.Activations[0].Layers.Select(l => l.Std).ToArray();
        var std3 = runs.Single(r => r.Arm.Folder == "relu-sqrt3").Records[0]!.Activations[0].Layers.Select(l => l.Std).ToArray();
        Assert.True(std0[3] < 0.25 * std0[0], $"pytorch init: std {string.Join(", ", std0)}");
        Assert.True(std3[3] > std0[3] * 10, $"sqrt3 init: std {string.Join(", ", std3)}");

        string md = WibReluReport.Write(o, runs, dir.Path, 0.1);
        Assert.Contains("| cifar10 | paper | wib-relu | 1 | 2 |", md, StringComparison.Ordinal);
        Assert.Contains("0.133", md, StringComparison.Ordinal);   // the paper's Fashion-MNIST figures are quoted
        Assert.Contains("| cifar10 | paper | relu | sqrt3 |", md, StringComparison.Ordinal);
        foreach (var chart in new[] { "cifar10-paper-val-accuracy", "cifar10-paper-train-loss", "cifar10-paper-relu-pytorch-act-std", "cifar10-paper-relu-sqrt3-near-zero" })
            Assert.True(new FileInfo(Path.Combine(dir.Path, "charts", chart + ".png")).Length > 1000, chart);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "results.json"))))
            Assert.Equal(4, doc.RootElement.GetProperty("rows").GetArrayLength());

        // a rerun reads the finished runs back: same records, nothing trained again
        string folder = ExperimentRuns.SeedFolder(WibReluExperiment.GroupFolder(dir.Path, "cifar10", "paper", runs[0].Arm), 0);
        string before = File.ReadAllText(Path.Combine(folder, WibReluExperiment.RecordFile));
        string metrics = File.ReadAllText(Path.Combine(folder, RunFiles.Metrics));
        var again = WibReluExperiment.Run(o, Load, dir.Path);
        Assert.Equal(before, File.ReadAllText(Path.Combine(folder, WibReluExperiment.RecordFile)));
        Assert.Equal(metrics, File.ReadAllText(Path.Combine(folder, RunFiles.Metrics)));
        Assert.Equal(runs[0].Records[0]!.Epochs, again[0].Records[0]!.Epochs);
    }
}
