using System.Text.Json;
using Sprout.Data;
using Sprout.Diagnostics;
using Sprout.Experiments;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Reporting;
using Sprout.Runs;
using Sprout.Tests.Data;
using Sprout.Tests.Reporting;
using Sprout.Training;
using Xunit;
using RunData = Sprout.Runs.RunData;

namespace Sprout.Tests.Experiments;

/// <summary>
/// <c>experiment similarity-growth</c> (paper 002): its options, padding 28×28 images to 32×32, and a tiny run on a
/// generated CIFAR-10 of the real format — run groups per arm, the report beside the paper's Tables 1 and 3, the
/// layer-2 histogram equal to a direct computation, the regulariser lowering layer 2's mean |cos|, the Grad-CAM grids
/// of both arms (Figures 4–5), and a finished experiment read back on a rerun.
/// </summary>
[Collection("Workers")]
public class SimilarityGrowthExperimentTests
{
    [Fact]
    public void PresetsFollowThePaperAndBadOptionsAreRefusedInOneLine()
    {
        var quick = SimilarityGrowthOptions.Quick(["fashion-mnist"]);
        quick.Validate();
        Assert.Equal(2, quick.Pad);                                  // 28×28 → 32×32
        Assert.Equal(new[] { "vgg16", "mobilenetv1" }, quick.Models);
        var paper = SimilarityGrowthOptions.Paper(["cifar10", "cifar100"]);
        paper.Validate();
        Assert.Equal(0, paper.Pad);
        Assert.Equal(250, paper.TotalEpochs);                         // initial 50 + 4 stages × 50
        Assert.Equal((16, 32, 35.0, 128, 0.9), (paper.Width, paper.MobileNetWidth, paper.Percent, paper.BatchSize, paper.Momentum));
        // the paper's N_best per method; plain + ours + the two ablation arms
        Assert.Equal(new[] { "random", "random+sim N=20 λ=0.01", "random+cos N=20 λ=0.01", "random+sum N=20 λ=0.01" },
            paper.Arms("random").Select(a => a.Name));
        Assert.Equal(15, paper.Arms("firefly")[1].N);
        // a sweep: every (N, λ) is an arm of its own, with its own folder
        var sweep = quick with { Iterations = [1, 5], Lambdas = [0.01, 0.1], Ablation = false };
        var arms = sweep.Arms("firefly");
        Assert.Equal(5, arms.Count);
        // the quick preset runs the whole study in small: an N sweep (the chosen N) and Table 3's ablation arms
        Assert.Equal(new[] { "random", "random+sim N=5 λ=0.01", "random+sim N=20 λ=0.01", "random+cos N=5 λ=0.01", "random+sum N=5 λ=0.01" },
            quick.Arms("random").Select(a => a.Name));
        // the two-sided weight-sum penalty gets arms (and folders) of its own; the cosine-only arm has no sum term
        var squared = (quick with { SumPenalty = SumPenalty.SquaredLog, Iterations = [5] }).Arms("firefly");
        Assert.Equal(new[] { "firefly", "firefly_sim2_n5_l0.01", "firefly_cos_n5_l0.01", "firefly_sum2_n5_l0.01" }, squared.Select(a => a.Folder));
        Assert.Equal(SumPenalty.SquaredLog, squared[1].Similarity!.SumPenalty);
        Assert.Equal(arms.Count, arms.Select(a => a.Folder).Distinct().Count());
        Assert.Equal(new SimilarityConfig(5, UseCosine: true, UseSumRatio: false, Lambda: 0.01), (quick with { Ablation = true, Iterations = [5] }).Arms("ssd")[2].Similarity);

        void Bad(SimilarityGrowthOptions o, string message)
        {
            var e = Assert.Throws<ArgumentException>(o.Validate);
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
        Bad(quick with { Models = ["resnet"] }, "unknown model 'resnet'");
        Bad(quick with { Methods = ["swe"] }, "unknown method 'swe'");
        Bad(quick with { Iterations = [0] }, "--n must be in 1..");
        Bad(quick with { Lambdas = [double.NaN] }, "--lambda");
        Bad(quick with { Lambdas = [] }, "--lambda needs at least one value");
        Bad(quick with { Pad = 0 }, "need ≥ 32×32 inputs (--pad 2)");
        Bad(quick with { Momentum = 1 }, "--momentum");
        Bad(quick with { Datasets = ["spirals"] }, "unknown data set 'spirals'");
        Bad(quick with { EpochsPerStage = 0 }, "--epochs-per-stage");
    }

    [Fact]
    public void PaddingAddsBlackPixelsAroundEveryImage()
    {
        var d = Fixtures.Synthetic(3, 2, channels: 2, side: 4);
        var p = d.Pad(2);
        Assert.Equal((2, 8, 8, 3), (p.Channels, p.Height, p.Width, p.Count));
        Assert.Equal(d.Labels, p.Labels);
        for (int i = 0; i < d.Count; i++)
            for (int c = 0; c < 2; c++)
                for (int y = 0; y < 8; y++)
                    for (int x = 0; x < 8; x++)
                    {
                        bool inside = y is >= 2 and < 6 && x is >= 2 and < 6;
                        byte want = inside ? d.Sample(i)[c * 16 + (y - 2) * 4 + (x - 2)] : (byte)0;
                        Assert.Equal(want, p.Sample(i)[c * 64 + y * 8 + x]);
                    }
        Assert.Same(d, d.Pad(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Pad(-1));
        Assert.Equal(1024, RunData.Features("fashion-mnist", 2));
    }

    // a generated CIFAR-10 in the real binary format: 5 × 20 training images and 20 test images
    private static TempDir Cifar()
    {
        var data = Fixtures.Cifar10Folder();
        Assert.True(DataCatalog.IsPresent(DataCatalog.Cifar10, data.Path));
        return data;
    }

    [Fact]
    public void ATinyCifarRunReportsBesideThePaperDrawsFigures4To6AndReadsBackOnARerun()
    {
        using var data = Cifar();
        using var dir = new ReportDir("sim-growth");
        // VGG16 at width 4 grown once by 50%; random and firefly, each plain and with the regulariser on every step of
        // the stage (N above the stage's length), a strong λ; the ablation arms too
        var o = SimilarityGrowthOptions.Quick(["cifar10"], 1) with
        {
            Models = ["vgg16"], Methods = ["random", "firefly"], Iterations = [1000], Lambdas = [0.1], Ablation = true, Width = 4, Percent = 50,
            Stages = 1, EpochsPerStage = 1, TrainSamples = 0, TestSamples = 0, BatchSize = 20, Augment = false,
        };
        (InMemoryDataset, InMemoryDataset) Load(string ds, int pad) => RunData.Load(ds, data.Path, null, InputScaling.Standardize, pad);
        var runs = SimilarityGrowthExperiment.Run(o, Load, dir.Path);
        Assert.Equal(8, runs.Count);
        foreach (var r in runs)
        {
            var rep = Assert.Single(r.Runs);
            Assert.InRange(rep.FinalTestAccuracy, 0, 1);
            Assert.Single(rep.Stages);
            Assert.Equal(TrainingOptimizer.Sgd, rep.Config.Optimizer);
            Assert.Equal(0.9, rep.Config.Momentum);
            Assert.Equal(o.TotalEpochs, rep.Config.LearningRateSchedule!.Epochs);
            Assert.Equal(r.Arm.Similarity, rep.Config.Similarity);
            string seed0 = ExperimentRuns.SeedFolder(SimilarityGrowthExperiment.GroupFolder(dir.Path, "cifar10", "vgg16", r.Arm), 0);
            Assert.True(RunFiles.IsRun(seed0));
            var rec = Assert.IsType<SimilarityRecord>(r.Similarity[0]);
            Assert.Equal(Enumerable.Range(1, o.TotalEpochs), rec.Epochs.Select(e => e.Epoch));   // one entry per epoch
            Assert.Equal(13, rec.Epochs[0].MeanAbs.Length);                                    // VGG16's 13 convs

            // the histogram of layer 2 equals a direct computation from the final weights
            var module = (Sequential)CheckpointFile.Load(RunFiles.LastCheckpoint(seed0)).BuildModule("model/");
            var conv2 = module.Layers.OfType<Conv2d>().ElementAt(1);
            var w = conv2.Weight.ToArray();
            int rows = conv2.Weight.Dim(0), f = w.Length / rows;
            var hist = new int[SimilarityGrowthExperiment.HistogramBins];
            double sumAbs = 0;
            int pairs = 0;
            for (int i = 0; i < rows; i++)
                for (int j = i + 1; j < rows; j++)
                {
                    double dot = 0, ni = 0, nj = 0;
                    for (int k = 0; k < f; k++)
                    {
                        dot += (double)w[i * f + k] * w[j * f + k];
                        ni += (double)w[i * f + k] * w[i * f + k];
                        nj += (double)w[j * f + k] * w[j * f + k];
                    }
                    double c = Math.Clamp(dot / Math.Sqrt(ni * nj), -1, 1);
                    hist[Math.Min(hist.Length - 1, (int)((c + 1) / 2 * hist.Length))]++;
                    sumAbs += Math.Abs(c);
                    pairs++;
                }
            Assert.Equal(rows, rep.FinalWidths[1]);
            Assert.Equal(hist, rec.Layer2Histogram);
            Assert.Equal(sumAbs / pairs, rec.Layer2MeanAbs, 1e-6); // a tolerance, not rounding to places: 0.1525150 and 0.1525149 round apart
        }

        // the regulariser lowers layer 2's mean |cos| against the plain arm (same seed, same growth)
        foreach (var method in o.Methods)
        {
            var plain = runs.Single(r => r.Arm.Method == method && r.Arm.Terms == SimilarityTerms.None).Similarity[0]!;
            var reg = runs.Single(r => r.Arm.Method == method && r.Arm.Terms == SimilarityTerms.Both).Similarity[0]!;
            Assert.True(reg.Layer2MeanAbs < plain.Layer2MeanAbs, $"{method}: layer 2 mean |cos| {plain.Layer2MeanAbs} plain, {reg.Layer2MeanAbs} regularised");
        }

        string md = SimilarityGrowthReport.Write(o, runs, dir.Path, 0.1);
        Assert.Contains("| cifar10 | vgg16 | random | 1 |", md, StringComparison.Ordinal);
        Assert.Contains("| cifar10 | vgg16 | firefly+sim N=1000 λ=0.1 | 1 |", md, StringComparison.Ordinal);
        Assert.Contains("86.49", md, StringComparison.Ordinal);     // Table 1: Random, VGG16
        Assert.Contains("91.70", md, StringComparison.Ordinal);     // Table 1: Firefly + ours, VGG16
        Assert.Contains("91.51", md, StringComparison.Ordinal);     // Table 3: Firefly, cosine term only
        Assert.Contains("Chosen N", md, StringComparison.Ordinal);
        foreach (var method in o.Methods)
            foreach (var chart in new[] { "layer2-cosines", "cosine-over-training" })
                Assert.True(new FileInfo(Path.Combine(dir.Path, "charts", $"cifar10-vgg16-{method}-{chart}.png")).Length > 1000);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "results.json"))))
        {
            Assert.Equal(8, doc.RootElement.GetProperty("rows").GetArrayLength());
            var listed = doc.RootElement.GetProperty("charts").EnumerateArray().Select(c => c.GetString()!.Replace('\\', '/')).ToList();
            foreach (var method in o.Methods) Assert.Contains($"charts/cifar10-vgg16-{method}-gradcam.png", listed);
        }

        // Grad-CAM grids (Figures 4–5): per method, the first test image of each of 6 classes (the fixture's labels are
        // i mod 10) explained for its true class by seed 0's final model of the plain and of the regularised arm
        Assert.Contains("## Grad-CAM (Figures 4–5)", md, StringComparison.Ordinal);
        var grids = SimilarityGrowthGradCam.Compute(runs, dir.Path);
        Assert.Equal(o.Methods, grids.Select(g => g.Method));
        foreach (var g in grids)
        {
            Assert.Null(g.Note);
            Assert.Equal([0, 1, 2, 3, 4, 5], g.Images);
            Assert.Equal([0, 1, 2, 3, 4, 5], g.Labels);
            Assert.Equal([g.Method, g.Method + "+sim"], g.Columns.Select(c => c.Label));
            Assert.Contains($"seed 0; {g.LayerName}, true class)", md, StringComparison.Ordinal);
            Assert.Contains($"](charts/cifar10-vgg16-{g.Method}-gradcam.png)", md, StringComparison.Ordinal);
            // the grid decodes to input + 2 arm columns by 6 image rows of tiles (plus the label margins)
            var png = new ScottPlot.Image(Path.Combine(dir.Path, "charts", $"cifar10-vgg16-{g.Method}-gradcam.png"));
            Assert.Equal((140 + 3 * GradCamFigure.Tile, 90 + 6 * GradCamFigure.Tile), (png.Width, png.Height));
            // each column is its own arm's model: a direct Grad-CAM of that checkpoint at the default layer
            var x = new Tensor(g.Inputs.SelectMany(i => i).ToArray(), 6, 3, 32, 32);
            for (int c = 0; c < 2; c++)
            {
                string ck = RunFiles.LastCheckpoint(ExperimentRuns.SeedFolder(SimilarityGrowthExperiment.GroupFolder(dir.Path, "cifar10", "vgg16", g.Arms[c]), 0));
                var model = (Sequential)CheckpointFile.Load(ck).BuildModule("model/");
                Assert.Equal(GradCam.DefaultLayer(model), g.Layer);
                var direct = GradCam.Compute(model, x, g.Layer, g.Labels);
                for (int r = 0; r < 6; r++) Assert.Equal(direct[r].Map, g.Columns[c].Maps[r].Map);
            }
            // the two arms' models differ, and so do their maps
            double diff = 0;
            for (int r = 0; r < 6; r++)
                diff += g.Columns[0].Maps[r].Map.Zip(g.Columns[1].Maps[r].Map, (a, b) => Math.Abs(a - b)).Sum();
            Assert.True(diff > 1e-2, $"{g.Method}: the plain and regularised maps are the same (total |difference| {diff})");
        }

        // a rerun with the same folder reads every finished run back: the same reports, nothing trained again
        string metrics = Path.Combine(ExperimentRuns.SeedFolder(SimilarityGrowthExperiment.GroupFolder(dir.Path, "cifar10", "vgg16", runs[0].Arm), 0), "metrics.csv");
        string before = File.ReadAllText(metrics);
        var lines = new List<string>();
        var again = SimilarityGrowthExperiment.Run(o, Load, dir.Path, lines.Add);
        Assert.Equal(runs.Select(r => r.Runs[0].FinalTestAccuracy), again.Select(r => r.Runs[0].FinalTestAccuracy));
        Assert.Equal(runs.Select(r => r.Similarity[0]!.Layer2MeanAbs), again.Select(r => r.Similarity[0]!.Layer2MeanAbs));
        Assert.Equal(8, lines.Count(l => l.Contains("finished already", StringComparison.Ordinal)));
        Assert.Equal(before, File.ReadAllText(metrics));

        // an arm without its final checkpoint: its grid is skipped with a note line, the other method's still drawn
        var fireflyPlain = runs.Single(r => r.Arm.Method == "firefly" && r.Arm.Terms == SimilarityTerms.None).Arm;
        File.Delete(RunFiles.LastCheckpoint(ExperimentRuns.SeedFolder(SimilarityGrowthExperiment.GroupFolder(dir.Path, "cifar10", "vgg16", fireflyPlain), 0)));
        md = SimilarityGrowthReport.Write(o, again, dir.Path, 0.1);
        Assert.Contains("Grad-CAM of cifar10 vgg16 firefly skipped: firefly: seed 0 has no final checkpoint", md, StringComparison.Ordinal);
        Assert.DoesNotContain("cifar10-vgg16-firefly-gradcam.png", md, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir.Path, "charts", "cifar10-vgg16-firefly-gradcam.png")));   // not the earlier report's
        Assert.Contains("](charts/cifar10-vgg16-random-gradcam.png)", md, StringComparison.Ordinal);
        // a corrupt one: a note line naming the arm, no stack trace
        var randomSim = runs.Single(r => r.Arm.Method == "random" && r.Arm.Terms == SimilarityTerms.Both).Arm;
        File.WriteAllText(RunFiles.LastCheckpoint(ExperimentRuns.SeedFolder(SimilarityGrowthExperiment.GroupFolder(dir.Path, "cifar10", "vgg16", randomSim), 0)), "not a checkpoint");
        md = SimilarityGrowthReport.Write(o, again, dir.Path, 0.1);
        var note = Assert.Single(md.Split('\n'), l => l.StartsWith("Grad-CAM of cifar10 vgg16 random skipped: random+sim N=1000 λ=0.1: ", StringComparison.Ordinal));
        Assert.Contains("last.ckpt", note, StringComparison.Ordinal);
        Assert.DoesNotContain("gradcam.png", md, StringComparison.Ordinal);
    }
}
