using System.Globalization;
using Sprout.Growth;
using Sprout.Runs;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>Which terms of paper 002's regulariser an arm uses (Table 3's ablation).</summary>
public enum SimilarityTerms
{
    /// <summary>None: the growth method alone (the paper's plain rows).</summary>
    None,

    /// <summary>Both terms: mean |cosine| and λ·log|ΣW/ΣW_prev| ("+ours", Proposed1 + Proposed2).</summary>
    Both,

    /// <summary>The mean |cosine| term alone (Proposed1).</summary>
    Cosine,

    /// <summary>The weight-sum term alone (Proposed2).</summary>
    Sum,
}

/// <summary>
/// One arm of the similarity-growth experiment: a growth method (random, ssd, ssd-fast, firefly) with or without
/// the regulariser, and for a regularised arm its N and λ.
/// </summary>
/// <param name="Method">The growth method's name.</param>
/// <param name="Terms">Which regulariser terms it adds.</param>
/// <param name="N">Iterations after each growth step that carry the regulariser (0 for a plain arm).</param>
/// <param name="Lambda">λ of the weight-sum term (0 for a plain arm).</param>
/// <param name="Penalty">How the weight-sum term penalises the ratio (the paper's log, or the two-sided squared log).</param>
public sealed record SimilarityArm(string Method, SimilarityTerms Terms, int N, double Lambda, SumPenalty Penalty = SumPenalty.Log)
{
    /// <summary>The name in tables: <c>firefly</c>, <c>firefly+sim</c> (both terms), <c>firefly+cos</c>, <c>firefly+sum</c>,
    /// with <c> N=…, λ=…</c> for a regularised arm.</summary>
    public string Name => Terms == SimilarityTerms.None ? Method
        : string.Create(CultureInfo.InvariantCulture, $"{Method}+{Suffix} N={N} λ={Lambda:0.####}");

    /// <summary>The run group's folder name: <c>firefly</c>, <c>firefly_sim_n15_l0.01</c>, …</summary>
    public string Folder => Terms == SimilarityTerms.None ? Method
        : string.Create(CultureInfo.InvariantCulture, $"{Method}_{Suffix}_n{N}_l{Lambda:0.####}");

    // the squared-log penalty marks the arms whose sum term uses it ("sim2", "sum2"); the cosine-only arm has no sum term
    private string Suffix => (Terms switch { SimilarityTerms.Both => "sim", SimilarityTerms.Cosine => "cos", _ => "sum" }) +
        (Penalty == SumPenalty.SquaredLog && Terms != SimilarityTerms.Cosine ? "2" : "");

    /// <summary>The regulariser's config (null for a plain arm).</summary>
    public SimilarityConfig? Similarity => Terms == SimilarityTerms.None ? null
        : new SimilarityConfig(N, UseCosine: Terms != SimilarityTerms.Sum, UseSumRatio: Terms != SimilarityTerms.Cosine, Lambda: Lambda, SumPenalty: Penalty);
}

/// <summary>
/// Settings of paper 002's study (Sakai &amp; Hotta: similarity-guided growth, Tables 1–3, Figure 6): VGG16 and
/// MobileNetV1 grown from width 16 by +35% of their width per step with Random, SSD and Firefly, each plain and with
/// the regulariser; every choice the paper leaves open is a field here, set by <see cref="Quick"/> and
/// <see cref="Paper"/> and printed by <see cref="Choices"/>.
/// </summary>
/// <param name="Datasets">Data sets (paper: cifar10, cifar100; quick: fashion-mnist padded to 32×32).</param>
/// <param name="Models">Networks: vgg16, mobilenetv1.</param>
/// <param name="Methods">Growth methods: random, ssd, ssd-fast, firefly.</param>
/// <param name="Iterations">The N values of the regularised arms (paper: N chosen from 1..30; Table 1's N_best 20/10/15).</param>
/// <param name="Lambdas">The λ values of the regularised arms (the paper does not give its λ).</param>
/// <param name="Ablation">Also run the cosine-only and sum-only arms (Table 3), at the first N and λ.</param>
/// <param name="Seeds">Seeds 0, 1, …</param>
/// <param name="TrainSamples">Training samples (a stratified subset; 0 = all), before the validation split.</param>
/// <param name="TestSamples">Test samples evaluated (the first ones; 0 = all).</param>
/// <param name="ValidationFraction">Share of the training samples held out as the runner's validation set.</param>
/// <param name="Width">Start width of every VGG16 layer (paper: 16).</param>
/// <param name="MobileNetWidth">Start width of every MobileNetV1 layer (paper: "16 and 32" — Firefly's growing
/// MobileNetV1 starts at 32).</param>
/// <param name="Percent">Growth per step in % of the current total width (paper: 35).</param>
/// <param name="Stages">Growth steps (paper: 4 — 250 epochs, one every 50).</param>
/// <param name="EpochsPerStage">Epochs of the initial training and of every stage (paper: 50).</param>
/// <param name="Pad">Black pixels added on every side of the images (2: 28×28 → 32×32).</param>
/// <param name="LearningRate">SGD learning rate at the start of the cosine decay.</param>
/// <param name="Momentum">SGD momentum (paper: 0.9).</param>
/// <param name="WeightDecay">L2 weight decay.</param>
/// <param name="BatchSize">Mini-batch size (paper: 128).</param>
/// <param name="Augment">Random crop (4 px padding) and horizontal flip.</param>
/// <param name="Scale">Which preset the settings came from.</param>
public sealed record SimilarityGrowthOptions(IReadOnlyList<string> Datasets, IReadOnlyList<string> Models, IReadOnlyList<string> Methods,
    IReadOnlyList<int> Iterations, IReadOnlyList<double> Lambdas, bool Ablation, int Seeds, int TrainSamples, int TestSamples,
    double ValidationFraction, int Width, int MobileNetWidth, double Percent, int Stages, int EpochsPerStage, int Pad, double LearningRate, double Momentum,
    double WeightDecay, int BatchSize, bool Augment, ExperimentScale Scale)
{
    /// <summary>How the regularised arms' weight-sum term penalises the ratio (default: the paper's log).</summary>
    public SumPenalty SumPenalty { get; init; } = SumPenalty.Log;

    /// <summary>The networks.</summary>
    public static IReadOnlyList<string> ModelNames { get; } = ["vgg16", "mobilenetv1"];

    /// <summary>The growth methods: random (+RAS), ssd and ssd-fast (SSD's extender and distributor), firefly.</summary>
    public static IReadOnlyList<string> MethodNames { get; } = ["random", "ssd", "ssd-fast", "firefly"];

    /// <summary>The paper's N_best per method (Tables 1–3): Random 20, SSD 10, Firefly 15.</summary>
    public static int PaperN(string method) => method switch { "random" => 20, "firefly" => 15, _ => 10 };

    /// <summary>The default λ (the paper gives none; the library's default).</summary>
    public const double DefaultLambda = 0.01;

    /// <summary>
    /// Quick scale (≈ 10–15 minutes on 2 cores): Fashion-MNIST padded by 2 to 32×32 (1 channel), 2,000 training samples
    /// (10% held out), 1,000 test samples, 1 seed, VGG16 at width 16 and MobileNetV1 at 32, random / ssd-fast / firefly
    /// plain, +sim at N 5 and 20 (λ 0.01; the chosen N is the better one) and the two ablation arms at N 5, 2 growth steps
    /// of +35%, 2 epochs per phase (6 in all, cosine decay over them), SGD lr 0.05 momentum 0.9 weight decay 1e-4,
    /// batch 32 (the paper's 128 would leave 42 SGD steps in all on this subset: the networks barely leave chance), crop + flip.
    /// </summary>
    public static SimilarityGrowthOptions Quick(IReadOnlyList<string> datasets, int seeds = 1) =>
        new(datasets, ModelNames, ["random", "ssd-fast", "firefly"], [5, 20], [DefaultLambda], true, seeds, 2000, 1000, 0.1, 16, 32, 35, 2, 2,
            datasets.Any(d => !d.StartsWith("cifar", StringComparison.Ordinal)) ? 2 : 0, 0.05, 0.9, 1e-4, 32, true, ExperimentScale.Quick);

    /// <summary>
    /// Paper scale: all training samples (10% held out as the runner's validation set, which the paper does not
    /// have), the whole test set, batch 128, 3 seeds, 4 steps of +35% every 50 epochs (250 in all, cosine decay over them), SGD lr
    /// 0.1 (Firefly's; the paper gives none) momentum 0.9 weight decay 1e-4, batch 128, crop + flip; each method's
    /// N_best from Tables 1–2 (ssd exact); the ablation arms on.
    /// </summary>
    public static SimilarityGrowthOptions Paper(IReadOnlyList<string> datasets, int seeds = 3) =>
        Quick(datasets, seeds) with
        {
            Methods = ["random", "ssd", "firefly"], Iterations = [], Ablation = true, TrainSamples = 0, TestSamples = 0, Stages = 4,
            EpochsPerStage = 50, LearningRate = 0.1, BatchSize = 128, Scale = ExperimentScale.Paper,
        };

    /// <summary>The N values a method's regularised arms use: <see cref="Iterations"/>, or the paper's N_best when empty.</summary>
    public IReadOnlyList<int> IterationsFor(string method) => Iterations.Count > 0 ? Iterations : [PaperN(method)];

    /// <summary>The arms of a method, in report order: plain, +sim for every (N, λ), then the ablation arms.</summary>
    public IReadOnlyList<SimilarityArm> Arms(string method)
    {
        var list = new List<SimilarityArm> { new(method, SimilarityTerms.None, 0, 0) };
        foreach (int n in IterationsFor(method))
            foreach (double l in Lambdas) list.Add(new(method, SimilarityTerms.Both, n, l, SumPenalty));
        if (Ablation)
        {
            int n0 = IterationsFor(method)[0];
            list.Add(new(method, SimilarityTerms.Cosine, n0, Lambdas[0], SumPenalty));
            list.Add(new(method, SimilarityTerms.Sum, n0, Lambdas[0], SumPenalty));
        }
        return list;
    }

    /// <summary>The start width of a model's layers.</summary>
    public int WidthOf(string model) => model == "mobilenetv1" ? MobileNetWidth : Width;

    /// <summary>Epochs of the whole run: the initial phase and every stage.</summary>
    public int TotalEpochs => (Stages + 1) * EpochsPerStage;

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> with one clear line.</summary>
    public void Validate()
    {
        if (Datasets.Count == 0) throw new ArgumentException("no data set");
        foreach (var d in Datasets)
        {
            if (!Data.DataCatalog.Names.Contains(d)) throw new ArgumentException($"unknown data set '{d}' (an image data set: {string.Join(", ", Data.DataCatalog.Names)})");
            var spec = Data.DataCatalog.Get(d);
            if (spec.Height + 2 * Pad < 32 || spec.Width + 2 * Pad < 32)
                throw new ArgumentException($"{d} is {spec.Height}×{spec.Width}: VGG16 and MobileNetV1 need ≥ 32×32 inputs (--pad {(32 - Math.Min(spec.Height, spec.Width) + 1) / 2})");
        }
        if (Models.Count == 0) throw new ArgumentException("no model");
        foreach (var m in Models)
            if (!ModelNames.Contains(m)) throw new ArgumentException($"unknown model '{m}' (known: {string.Join(", ", ModelNames)})");
        if (Methods.Count == 0) throw new ArgumentException("no method");
        foreach (var m in Methods)
            if (!MethodNames.Contains(m)) throw new ArgumentException($"unknown method '{m}' (known: {string.Join(", ", MethodNames)})");
        foreach (int n in Iterations)
            if (n is < 1 or > 1_000_000) throw new ArgumentException($"--n must be in 1..1000000, got {n}");
        if (Lambdas.Count == 0) throw new ArgumentException("--lambda needs at least one value");
        foreach (double l in Lambdas)
            if (!double.IsFinite(l) || Math.Abs(l) > 1000) throw new ArgumentException($"--lambda must be a finite number in [-1000, 1000], got {l}");
        if (Seeds is < 1 or > 1000) throw new ArgumentException($"--seeds must be in 1..1000, got {Seeds}");
        if (TrainSamples < 0) throw new ArgumentException("--train-samples must be ≥ 0");
        if (TestSamples < 0) throw new ArgumentException("--test-samples must be ≥ 0");
        if (!(ValidationFraction > 0 && ValidationFraction < 1)) throw new ArgumentException($"the validation fraction must be in (0, 1), got {ValidationFraction}");
        if (Width is < 1 or > 4096) throw new ArgumentException($"--width must be in 1..4096, got {Width}");
        if (MobileNetWidth is < 1 or > 4096) throw new ArgumentException($"--mobilenet-width must be in 1..4096, got {MobileNetWidth}");
        if (!(Percent > 0 && Percent <= 1000)) throw new ArgumentException($"--percent must be in (0, 1000], got {Percent}");
        if (Stages is < 0 or > 100) throw new ArgumentException($"--stages must be in 0..100, got {Stages}");
        if (EpochsPerStage is < 1 or > 100_000) throw new ArgumentException($"--epochs-per-stage must be in 1..100000, got {EpochsPerStage}");
        if (Pad is < 0 or > 64) throw new ArgumentException($"--pad must be in 0..64 pixels, got {Pad}");
        if (!(LearningRate > 0 && LearningRate <= 10)) throw new ArgumentException($"--lr must be in (0, 10], got {LearningRate}");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentException($"--momentum must be in [0, 1), got {Momentum}");
        if (!(WeightDecay >= 0 && WeightDecay <= 10)) throw new ArgumentException($"--weight-decay must be in [0, 10], got {WeightDecay}");
        if (BatchSize is < 1 or > 1_000_000) throw new ArgumentException($"--batch-size must be in 1..1000000, got {BatchSize}");
    }

    /// <summary>Every protocol choice, one per line, as the report prints them.</summary>
    public IReadOnlyList<(string Choice, string Value)> Choices()
    {
        var ci = CultureInfo.InvariantCulture;
        return
        [
            ("scale", Scale == ExperimentScale.Quick ? "quick (smaller data, fewer epochs and growth steps than the paper: see below)" : "paper"),
            ("data", string.Join(", ", Datasets) + (Pad > 0 ? $", padded by {Pad} black pixels per side (28×28 → {28 + 2 * Pad}×{28 + 2 * Pad})" : "")),
            ("training samples (--train-samples)", (TrainSamples > 0 ? TrainSamples.ToString(ci) + " (stratified subset)" : "all") +
                $", {ValidationFraction.ToString("0.##", ci)} of them held out as the runner's validation set (the paper has none)"),
            ("test samples (--test-samples)", TestSamples > 0 ? $"the first {TestSamples.ToString(ci)}" : "all"),
            ("networks (--models, --width, --mobilenet-width)", string.Join(", ", Models.Select(m => $"{m} at width {WidthOf(m)}")) + " in every layer (Firefly's variants; BN, VGG16 ReLU, MobileNetV1 swish)"),
            ("growth (--stages, --percent)", $"{Stages} steps of +{Percent.ToString("0.##", ci)}% of the current total width, one every {EpochsPerStage} epochs (paper: 4 steps, every 50 of 250 epochs)"),
            ("methods (--methods)", string.Join(", ", Methods.Select(m => m switch
            {
                "random" => "random (random new neurons, RAS allocation)",
                "ssd" => "ssd (splitting steepest descent, exact eigenvectors)",
                "ssd-fast" => "ssd-fast (splitting steepest descent, fast eigen-solver)",
                _ => "firefly (Firefly's extender and distributor)",
            }))),
            ("regulariser (--n, --lambda)", "after each growth step, for N optimizer steps: mean |cos| of every growable layer's rows + λ·log|ΣW/ΣW_prev|; N " +
                string.Join(", ", Methods.Select(m => $"{m}: {string.Join("/", IterationsFor(m))}")) + $", λ {string.Join("/", Lambdas.Select(l => l.ToString(ci)))}" +
                (SumPenalty == SumPenalty.SquaredLog ? "; the weight-sum term two-sided, λ·(log|ΣW/ΣW_prev|)² (--sum-penalty squared-log; the paper: λ·log)" : "")),
            ("ablation (--ablation)", Ablation ? "cosine-only and sum-only arms at the first N and λ (Table 3)" : "off"),
            ("training (--epochs-per-stage)", $"{EpochsPerStage} epochs initially and after every step, {TotalEpochs} in all; SGD lr {LearningRate.ToString(ci)} momentum {Momentum.ToString(ci)} " +
                $"weight decay {WeightDecay.ToString(ci)} (L2), cosine decay over the {TotalEpochs} epochs across growth steps, batch {BatchSize}" +
                (Augment ? ", random crop (4 px) + horizontal flip" : ", no augmentation")),
            ("seeds (--seeds)", Seeds.ToString(ci)),
        ];
    }

    /// <summary>What the run does, in one sentence.</summary>
    public string Describe() => string.Join("; ", Choices().Select(c => $"{c.Choice}: {c.Value}")) + ".";
}
