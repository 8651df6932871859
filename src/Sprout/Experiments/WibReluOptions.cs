using System.Globalization;
using Sprout.Diagnostics;
using Sprout.Nn;

namespace Sprout.Experiments;

/// <summary>One arm of the WIB-ReLU study: an activation with a weight initialisation.</summary>
/// <param name="Activation">Activation name (<see cref="WibReluOptions.ActivationNames"/>).</param>
/// <param name="Init">Initialisation name (<see cref="WibReluOptions.InitNames"/>).</param>
public sealed record WibArm(string Activation, string Init)
{
    /// <summary>The run group's folder name, e.g. <c>wib-relu-kaiming</c>.</summary>
    public string Folder => $"{Activation}-{Init}";

    /// <summary>The name in tables, e.g. <c>wib-relu, kaiming init</c>.</summary>
    public string Name => $"{Activation}, {Init} init";
}

/// <summary>
/// Settings of paper 004's study (Olimov et al., WIB-ReLU): the paper's CNN (and the authors' code's variant) with
/// ReLU, LeakyReLU, PReLU, ELU and each WIB-ReLU mode (Figures 12–13), and the initialisation study — PyTorch's default,
/// Kaiming, gain √3 and Eq. 5 — with per-layer activation statistics over the iterations (Figures 7–11). Every choice
/// the paper leaves open is a field here, set by <see cref="Quick"/> and <see cref="Paper"/> and printed by
/// <see cref="Choices"/>.
/// </summary>
/// <param name="Datasets">Data sets (paper: fashion-mnist, cifar10).</param>
/// <param name="Models">Networks: <c>paper</c> (conv 8@5×5 s2, 16/32/64@3×3 s2, average pool, Linear 64 → 10) and/or
/// <c>code</c> (the authors' code: 4 × [3×3 conv, act, 2×2 max-pool] (8/16/32/64), Linear → 128 → act → classes).</param>
/// <param name="Activations">The activation comparison's activations (Figures 12–13), each at <see cref="ComparisonInit"/>.</param>
/// <param name="ComparisonInit">The comparison's initialisation (paper: Kaiming for all experiments).</param>
/// <param name="InitStudyActivations">Activations of the initialisation study.</param>
/// <param name="Inits">Initialisations of the study.</param>
/// <param name="Seeds">Seeds 0, 1, …</param>
/// <param name="TrainSamples">Training samples (a stratified subset; 0 = all).</param>
/// <param name="TestSamples">Samples of the test set used as the validation set (the first ones; 0 = all).</param>
/// <param name="Epochs">Training epochs (paper: 20).</param>
/// <param name="BatchSize">Mini-batch size (paper: 256).</param>
/// <param name="LearningRate">Adam learning rate (the paper's "0.4" reads as a typo; the authors' code: 3e-4).</param>
/// <param name="StatsEveryStepUntil">Activation statistics after every step up to this one.</param>
/// <param name="StatsThenEvery">… and every this many steps after it.</param>
/// <param name="ProbeSamples">Training samples of the fixed probe batch the statistics are measured on.</param>
/// <param name="NearZeroStd">The standard deviation below which a unit counts as "nearly zero" (the paper gives none).</param>
/// <param name="Scale">Which preset the settings came from.</param>
public sealed record WibReluOptions(IReadOnlyList<string> Datasets, IReadOnlyList<string> Models, IReadOnlyList<string> Activations, string ComparisonInit,
    IReadOnlyList<string> InitStudyActivations, IReadOnlyList<string> Inits, int Seeds, int TrainSamples, int TestSamples, int Epochs, int BatchSize,
    double LearningRate, int StatsEveryStepUntil, int StatsThenEvery, int ProbeSamples, double NearZeroStd, ExperimentScale Scale)
{
    /// <summary>The networks.</summary>
    public static IReadOnlyList<string> ModelNames { get; } = ["paper", "code"];

    /// <summary>The activations: relu, leaky-relu (slope 0.01), prelu (one slope, 0.25), elu (α 1), and WIB-ReLU with μ the
    /// pre-activation batch mean (wib-relu, the authors' code), the post-ReLU batch mean (wib-post, the paper's wording), a
    /// running mean for evaluation (wib-running) or the constant 1/√(2π) (wib-constant).</summary>
    public static IReadOnlyList<string> ActivationNames { get; } = ["relu", "leaky-relu", "prelu", "elu", "wib-relu", "wib-post", "wib-running", "wib-constant"];

    /// <summary>The initialisations: pytorch (U(±1/√fan_in), PyTorch's default), kaiming (He normal, gain √2), sqrt3
    /// (U(±√3·√(3/fan_in)), the paper's "gain √3"), eq5 (N(0, 1)/√fan_in, the paper's Eq. 5).</summary>
    public static IReadOnlyList<string> InitNames { get; } = ["pytorch", "kaiming", "sqrt3", "eq5"];

    /// <summary>The paper's Fashion-MNIST figures for WIB-ReLU (Figure 12): train/validation loss and accuracy.</summary>
    public static (double TrainLoss, double ValLoss, double TrainAccuracy, double ValAccuracy) PaperFashionMnist => (0.133, 0.318, 0.951, 0.899);

    /// <summary>The layer config of an activation name.</summary>
    public static ActivationConfig Activation(string name) => name switch
    {
        "relu" => ActivationConfig.Relu,
        "leaky-relu" => new ActivationConfig(ActivationKind.LeakyRelu, Slope: 0.01f),
        "prelu" => new ActivationConfig(ActivationKind.PRelu, Slope: 0.25f),
        "elu" => new ActivationConfig(ActivationKind.Elu, Alpha: 1f),
        "wib-relu" => new ActivationConfig(ActivationKind.WibRelu, Wib: WibVariant.BatchMean),
        "wib-post" => new ActivationConfig(ActivationKind.WibRelu, Wib: WibVariant.PostMean),
        "wib-running" => new ActivationConfig(ActivationKind.WibRelu, Wib: WibVariant.Running),
        "wib-constant" => new ActivationConfig(ActivationKind.WibRelu, Wib: WibVariant.Constant),
        _ => throw new ArgumentException($"unknown activation '{name}' (known: {string.Join(", ", ActivationNames)})"),
    };

    /// <summary>The scheme of an initialisation name.</summary>
    public static InitScheme Init(string name) => name switch
    {
        "pytorch" => InitScheme.PyTorchDefault,
        "kaiming" => InitScheme.KaimingNormal,
        "sqrt3" => InitScheme.UniformGainSqrt3,
        "eq5" => InitScheme.WibNormal,
        _ => throw new ArgumentException($"unknown initialisation '{name}' (known: {string.Join(", ", InitNames)})"),
    };

    /// <summary>
    /// Quick scale (a few minutes on 2 cores): Fashion-MNIST, all 60,000 training samples, the whole test set, 1 seed, the
    /// paper's network, 5 epochs, every activation at Kaiming init, and ReLU and WIB-ReLU (μ the pre-activation batch mean,
    /// as the authors' code, and the post-ReLU batch mean, as the paper's wording) with each of the four inits;
    /// statistics after every step of the first 150 and every 10th after.
    /// </summary>
    public static WibReluOptions Quick(IReadOnlyList<string> datasets, int seeds = 1) =>
        new(datasets, ["paper"], ActivationNames, "kaiming", ["relu", "wib-relu", "wib-post"], InitNames, seeds, 0, 0, 5, 256, 3e-4,
            150, 10, 256, ActivationStats.DefaultNearZeroStd, ExperimentScale.Quick);

    /// <summary>
    /// Paper scale: all training samples, the whole test set as the validation set, 3 seeds, 20 epochs, batch 256 (the
    /// paper's), Adam lr 3e-4 (the authors' code), both networks; statistics after every step of the first 250 and every
    /// 25th after.
    /// </summary>
    public static WibReluOptions Paper(IReadOnlyList<string> datasets, int seeds = 3) =>
        Quick(datasets, seeds) with
        {
            Models = ModelNames, TrainSamples = 0, TestSamples = 0, Epochs = 20, StatsEveryStepUntil = 250, StatsThenEvery = 25, Scale = ExperimentScale.Paper,
        };

    /// <summary>The arms, in report order: the activation comparison, then the initialisation study's other arms.</summary>
    public IReadOnlyList<WibArm> Arms()
    {
        var list = Activations.Select(a => new WibArm(a, ComparisonInit)).ToList();
        foreach (var a in InitStudyActivations)
            foreach (var i in Inits)
                if (!list.Contains(new WibArm(a, i))) list.Add(new WibArm(a, i));
        return list;
    }

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> with one clear line.</summary>
    public void Validate()
    {
        if (Datasets.Count == 0) throw new ArgumentException("no data set");
        foreach (var d in Datasets)
            if (!Data.DataCatalog.Names.Contains(d)) throw new ArgumentException($"unknown data set '{d}' (an image data set: {string.Join(", ", Data.DataCatalog.Names)})");
        if (Models.Count == 0) throw new ArgumentException("no model");
        foreach (var m in Models)
            if (!ModelNames.Contains(m)) throw new ArgumentException($"unknown model '{m}' (known: {string.Join(", ", ModelNames)})");
        foreach (var a in Activations.Concat(InitStudyActivations)) Activation(a);
        foreach (var i in Inits.Append(ComparisonInit)) Init(i);
        if (Arms().Count == 0) throw new ArgumentException("no arm to run: give --activations or --inits");
        if (Seeds is < 1 or > 1000) throw new ArgumentException($"--seeds must be in 1..1000, got {Seeds}");
        if (TrainSamples < 0) throw new ArgumentException("--train-samples must be ≥ 0");
        if (TestSamples < 0) throw new ArgumentException("--test-samples must be ≥ 0");
        if (Epochs is < 1 or > 100_000) throw new ArgumentException($"--epochs must be in 1..100000, got {Epochs}");
        if (BatchSize is < 2 or > 1_000_000) throw new ArgumentException($"--batch must be in 2..1000000, got {BatchSize}");
        if (!(LearningRate > 0 && LearningRate <= 10)) throw new ArgumentException($"--lr must be in (0, 10], got {LearningRate}");
        if (StatsEveryStepUntil is < 0 or > 10_000_000) throw new ArgumentException($"--stats-steps must be in 0..10000000, got {StatsEveryStepUntil}");
        if (StatsThenEvery is < 1 or > 10_000_000) throw new ArgumentException($"--stats-every must be in 1..10000000, got {StatsThenEvery}");
        if (ProbeSamples is < 2 or > 100_000) throw new ArgumentException($"--probe-samples must be in 2..100000, got {ProbeSamples}");
        if (!(NearZeroStd >= 0 && NearZeroStd <= 100)) throw new ArgumentException($"--near-zero-std must be in [0, 100], got {NearZeroStd}");
    }

    /// <summary>Every protocol choice, one per line, as the report prints them.</summary>
    public IReadOnlyList<(string Choice, string Value)> Choices()
    {
        var ci = CultureInfo.InvariantCulture;
        return
        [
            ("scale", Scale == ExperimentScale.Quick ? "quick (fewer samples, epochs, seeds and a single network: see below)" : "paper"),
            ("data", string.Join(", ", Datasets) + ", standardised with the training set's per-channel mean and std (the paper: mean 0, std 1)"),
            ("training samples (--train-samples)", TrainSamples > 0 ? TrainSamples.ToString(ci) + " (stratified subset)" : "all"),
            ("validation set (--test-samples)", (TestSamples > 0 ? $"the first {TestSamples.ToString(ci)} test samples" : "the whole test set") + " (the paper's \"validation\")"),
            ("networks (--models)", string.Join("; ", Models.Select(m => m == "paper"
                ? "paper: conv 8@5×5 s2 p2, 16/32/64@3×3 s2 p1, each + act, adaptive average pool, Linear 64 → classes"
                : "code: 4 × [conv 3×3 p1 (8, 16, 32, 64) + act + 2×2 max-pool], Linear → 128 + act, Linear → classes"))),
            ("activations (--activations)", string.Join(", ", Activations) + $", each with {ComparisonInit} init (the paper: Kaiming for all experiments)"),
            ("initialisation study (--init-activations, --inits)", InitStudyActivations.Count == 0 ? "off"
                : $"{string.Join(", ", InitStudyActivations)} × {string.Join(", ", Inits)} (pytorch U(±1/√fan_in); kaiming He normal gain √2; sqrt3 U(±3/√fan_in); eq5 N(0,1)/√fan_in)"),
            ("training (--epochs, --batch, --lr)", $"{Epochs} epochs, Adam lr {LearningRate.ToString(ci)}, batch {BatchSize}, cross-entropy, no early stopping " +
                "(the paper: 20 epochs, batch 256, Adam \"lr 0.4\" — read as a typo; the authors' code: lr 3e-4, batch 128)"),
            ("activation statistics (--stats-steps, --stats-every, --probe-samples, --near-zero-std)",
                $"after every step up to {StatsEveryStepUntil.ToString(ci)}, then every {StatsThenEvery.ToString(ci)}th, on a fixed probe batch of the first {ProbeSamples.ToString(ci)} training samples " +
                $"(evaluation mode): each activation layer's output mean and std, and the share of its units (channel × position) whose std over the probe is < {NearZeroStd.ToString(ci)}"),
            ("seeds (--seeds)", Seeds.ToString(ci)),
        ];
    }

    /// <summary>What the run does, in one sentence.</summary>
    public string Describe() => string.Join("; ", Choices().Select(c => $"{c.Choice}: {c.Value}")) + ".";
}
