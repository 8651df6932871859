using System.Text.Json;
using Sprout.Data;
using Sprout.Diagnostics;
using Sprout.Experiments;
using Sprout.Nn;
using Sprout.Optim;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Tests.Data;
using Sprout.Tests.Reporting;
using Sprout.Training;
using Xunit;
using RunData = Sprout.Runs.RunData;

namespace Sprout.Tests.Experiments;

/// <summary>
/// <c>experiment fcn-translation</c> (paper 003): its options and runs, the evaluation folds (the quadrant swap of a
/// position-ignoring model keeps its accuracy), and a tiny run on a generated CIFAR-10 of the real format — folds as run
/// folders, every evaluation fold per epoch, the FCN's filter distances equal to a direct measurement, the report beside
/// the paper's tables, a rerun read back.
/// </summary>
[Collection("Workers")]
public class FcnTranslationExperimentTests
{
    [Fact]
    public void PresetsFollowThePaperLevelZeroIsSharedAndBadOptionsAreRefusedInOneLine()
    {
        var quick = FcnTranslationOptions.Quick(["mnist"]);
        quick.Validate();
        var runs = quick.Runs();
        // translation 0, 0.1, 0.3 × 2; edge noise, noise, rotation one level × 2; severed 0.5, 0.9 (FCN)
        Assert.Equal(6 + 6 + 2, runs.Count);
        Assert.Equal(new FcnRun(FcnStudy.Translation, "cnn", 0), quick.Canonical(new FcnRun(FcnStudy.Noise, "cnn", 0)));
        Assert.Equal(new FcnRun(FcnStudy.Translation, "fcn", 0.3), quick.Canonical(new FcnRun(FcnStudy.Vcp, "fcn", 0)));
        Assert.Equal(new AugmentationConfig(Rotate: 72), quick.AugmentationOf(new FcnRun(FcnStudy.Rotation, "cnn", 0.2)));
        Assert.Equal(new AugmentationConfig(EdgeNoise: 0.5), quick.AugmentationOf(new FcnRun(FcnStudy.EdgeNoise, "fcn", 0.5)));
        Assert.Null(quick.AugmentationOf(new FcnRun(FcnStudy.Translation, "fcn", 0)));
        var vcp = quick.NetworkOf(new FcnRun(FcnStudy.Vcp, "fcn", 0.9), "mnist", 10).Layers.OfType<LocallyConnected2dConfig>().ToList();
        Assert.Equal(3, vcp.Count);
        Assert.All(vcp, l => Assert.Equal((LcMask.Weight, 0.9), (l.Mask, l.SeverProbability)));
        Assert.All(quick.NetworkOf(new FcnRun(FcnStudy.Translation, "cnn", 0.3), "mnist", 10).Layers.OfType<LocallyConnected2dConfig>(), _ => Assert.Fail("a CNN has no LC layer"));
        // the authors' input masks: every locally connected layer of the built network masks its input, 0.9 of it severed
        var masked = (Sequential)(quick with { VcpMask = LcMask.Input }).NetworkOf(new FcnRun(FcnStudy.Vcp, "fcn", 0.9), "mnist", 10).Build(new Rng(1));
        var masks = masked.Layers.OfType<LocallyConnected2d>().Select(l => l.InputMask!.ToArray()).ToList();
        Assert.Equal(3, masks.Count);
        Assert.All(masks, m => Assert.InRange(m.Count(v => v == 0) / (double)m.Length, 0.85, 0.95));
        var paper = FcnTranslationOptions.Paper(["mnist", "cifar10"]);
        paper.Validate();
        Assert.Equal(11 * 2 + 3 * 10 * 2 + 10, paper.Runs().Count);   // level 0 of B.1–B.3 and severed 0 are shared runs
        Assert.Equal((256, 1e-3, 250, 50), (paper.BatchOn("mnist"), paper.LrOn("mnist"), paper.EpochsOn("mnist"), paper.PatienceOn("mnist")));
        Assert.Equal((128, 1e-4, 500, 100), (paper.BatchOn("cifar10"), paper.LrOn("cifar10"), paper.EpochsOn("cifar10"), paper.PatienceOn("cifar10")));

        void Bad(FcnTranslationOptions o, string message)
        {
            var e = Assert.Throws<ArgumentException>(o.Validate);
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
        Bad(quick with { Datasets = ["fashion-mnist"] }, "unknown data set 'fashion-mnist'");
        Bad(quick with { Architectures = ["vit"] }, "unknown architecture 'vit'");
        Bad(quick with { TranslationLevels = [1.5] }, "--translation levels must be in [0, 1]");
        Bad(quick with { VcpLevels = [1] }, "--vcp levels");
        Bad(quick with { FoldsRun = [5] }, "fold 5 is not in 0..4");
        Bad(quick with { Folds = 1 }, "--folds");
        Bad(quick with { PoolSamples = 50 }, "--pool-samples");
        Bad(quick with { TranslationLevels = [], EdgeNoiseLevels = [], NoiseLevels = [], RotationLevels = [], VcpLevels = [] }, "no run");
    }

    // 28×28 images whose class is their brightness (uniform noise around a per-class level): a feature without position
    private static InMemoryDataset Brightness(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var px = new byte[count * 784];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = i % 4;
            for (int k = 0; k < 784; k++) px[i * 784 + k] = (byte)Math.Clamp(40 + 50 * labels[i] + rng.NextInt(60) - 30, 0, 255);
        }
        return new InMemoryDataset(px, labels, 784, [1f / 255], [0f], [1, 28, 28]);
    }

    [Fact]
    public void QuadrantSwapAccuracyOfAPositionIgnoringModelEqualsItsCleanAccuracy()
    {
        var o = FcnTranslationOptions.Quick(["mnist"]);
        var train = Brightness(200, 1);
        var heldOut = Brightness(120, 2);
        var folds = FcnTranslationExperiment.EvaluationFolds(o, heldOut, 0);
        Assert.Equal(FcnTranslationOptions.EvalNames, folds.Select(f => f.Name));
        // the swapped fold is each held-out image with quadrants I and III exchanged (in pixel units, then scaled back)
        var swapped = folds.Single(f => f.Name == "quadrant-swap").Data;
        var clean = heldOut.X;
        for (int i = 0; i < 3; i++)
        {
            var img = clean.AsSpan(i * 784, 784).ToArray();
            QuadrantSwap.Swap(img, new ImageShape(1, 28, 28));
            var got = swapped.X.AsSpan(i * 784, 784).ToArray();
            for (int k = 0; k < 784; k++) Assert.Equal(img[k], got[k], 6);   // through pixel units and back: float rounding
        }
        Assert.NotEqual(clean, swapped.X);
        Assert.Equal(heldOut.Labels, swapped.Labels);

        // 1×1 conv → ReLU → global average → Linear: a function of the multiset of pixels, blind to where they are
        var blind = (Sequential)new SequentialConfig([new Conv2dConfig(1, 4, 1), ActivationConfig.Relu,
            new PoolConfig(PoolKind.AdaptiveAverage, OutputSize: 1, FlattenOutput: true), new LinearConfig(4, 4)]).Build(new Rng(3));
        var trainer = new Trainer(blind, new Adam(blind.Parameters(), 0.05));
        trainer.Fit(train, new Rng(4), 20, 15);
        var sets = new EvaluationSets(folds);
        var result = sets.Evaluate(trainer);
        Assert.True(result["clean"].Accuracy > 0.6, $"the brightness classes are learnable: {result["clean"].Accuracy}");
        Assert.Equal(result["clean"].Accuracy, result["quadrant-swap"].Accuracy);
        Assert.Equal(result["clean"].Loss, result["quadrant-swap"].Loss, 4);

        // a network that sees positions (flatten → Linear) does tell the swapped images apart
        var seeing = (Sequential)new SequentialConfig([new FlattenConfig(), new LinearConfig(784, 4)]).Build(new Rng(3));
        var r2 = new EvaluationSets(folds).Evaluate(new Trainer(seeing));
        Assert.NotEqual(r2["clean"].Loss, r2["quadrant-swap"].Loss, 4);
    }

    [Fact]
    public void ATinyCifarRunEvaluatesEveryFoldMeasuresTheFiltersReportsBesideThePaperAndReadsBackOnARerun()
    {
        using var data = Fixtures.Cifar10Folder();
        using var dir = new ReportDir("fcn-translation");
        var o = FcnTranslationOptions.Quick(["cifar10"]) with
        {
            TranslationLevels = [0.3], EdgeNoiseLevels = [], NoiseLevels = [], RotationLevels = [], VcpLevels = [],
            Folds = 2, FoldsRun = [0, 1], PoolSamples = 0, MaxEpochs = 1, BatchSize = 20, LearningRate = 1e-3,
        };
        (InMemoryDataset, InMemoryDataset) Load(string ds) => RunData.Load(ds, data.Path, null, InputScaling.Unit);
        var runs = FcnTranslationExperiment.Run(o, Load, dir.Path);
        Assert.Equal(new[] { "translation/cnn/0.30", "translation/fcn/0.30" }, runs.Select(r => r.Run.Folder.Replace('\\', '/')));
        // the pool: 100 training + 20 test images; 2 contiguous folds of 60
        var (pool, folds) = FcnTranslationExperiment.Folds(o, Enumerable.Range(0, 120).Select(i => i % 10).ToArray());
        Assert.Equal(120, pool.Length);
        Assert.Equal(Enumerable.Range(0, 60), folds[0].Validation);
        foreach (var r in runs)
        {
            Assert.Equal(2, r.Records.Count);
            for (int f = 0; f < 2; f++)
            {
                var rec = Assert.IsType<FcnRecord>(r.Records[f]);
                var e = Assert.Single(rec.Epochs);
                Assert.Equal(FcnTranslationOptions.EvalNames.OrderBy(n => n), e.Accuracy.Keys.OrderBy(n => n));
                Assert.All(e.Accuracy.Values, v => Assert.InRange(v, 0, 1));
                string folder = FcnTranslationExperiment.FoldFolder(dir.Path, "cifar10", r.Run, f);
                var cfg = RunSession.Open(folder).Config;
                Assert.Equal(new AugmentationConfig(Translate: 0.3), cfg.Growth.Augmentation);
                if (r.Run.Architecture == "cnn") { Assert.Empty(rec.Distances); continue; }
                // distances at initialisation and after the epoch, equal to a direct measurement of the weights
                Assert.Equal([0, 1], rec.Distances.Select(d => d.Epoch));
                var initial = (Sequential)cfg.Growth.Model!.Build(new Rng(0).Fork("init"));
                var final = (Sequential)CheckpointFile.Load(RunFiles.LastCheckpoint(folder)).BuildModule("model/");
                foreach (var (at, model) in new[] { (rec.Distances[0], initial), (rec.Distances[1], final) })
                {
                    var lc = model.Layers.OfType<LocallyConnected2d>().First();
                    Assert.Equal(new[] { FilterDistance.Measure(lc, 1), FilterDistance.Measure(lc, 4) }, at.Distances);
                }
            }
        }

        string md = FcnTranslationReport.Write(o, runs, dir.Path, 0.1);
        Assert.Contains("## Table 2: cifar10, translation augmentation", md, StringComparison.Ordinal);
        Assert.Contains("(0.8346)", md, StringComparison.Ordinal);   // Table 2, 30%: the paper's CNN training accuracy
        Assert.Contains("| translation | fcn | 0.30 | 2 |", md, StringComparison.Ordinal);
        foreach (var chart in new[] { "cifar10-translation-fcn-translated", "cifar10-distance-translation-r1", "cifar10-quadrant-swap" })
            Assert.True(new FileInfo(Path.Combine(dir.Path, "charts", chart + ".png")).Length > 1000, chart);
        var rows = FcnTranslationReport.Rows(o, runs);
        var fcnRow = rows.Single(r => r.Study == "translation" && r.Architecture == "fcn");
        Assert.Equal(FcnTranslationReport.Median(runs[1].Records.Select(x => x!.Epochs[0].Accuracy["quadrant-swap"])), fcnRow.Accuracy["quadrant-swap"]);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "results.json"))))
            Assert.Equal(2, doc.RootElement.GetProperty("rows").GetArrayLength());

        // a rerun reads the finished folds back without training again
        string one = FcnTranslationExperiment.FoldFolder(dir.Path, "cifar10", runs[1].Run, 0);
        string before = File.ReadAllText(Path.Combine(one, FcnTranslationExperiment.RecordFile));
        var again = FcnTranslationExperiment.Run(o, Load, dir.Path);
        Assert.Equal(before, File.ReadAllText(Path.Combine(one, FcnTranslationExperiment.RecordFile)));
        Assert.Equal(runs[1].Records[0]!.Epochs[0].Accuracy, again[1].Records[0]!.Epochs[0].Accuracy);
    }
}
