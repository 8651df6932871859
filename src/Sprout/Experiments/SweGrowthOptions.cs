using System.Globalization;
using Sprout.Growth;
using Sprout.Runs;

namespace Sprout.Experiments;

/// <summary>What the static baseline's training budget is ("the same budget rule" as the grown runs).</summary>
public enum BaselineBudget
{
    /// <summary>
    /// The default: the grown run's early-stopping rule (same patience, best weights restored) with the grown run's
    /// whole epoch cap, (stages + 1) × the maximum epochs of a stage — the baseline may train as long as the whole
    /// grown run could.
    /// </summary>
    Total,

    /// <summary>The early-stopping rule of one stage, its maximum epochs included.</summary>
    Stage,
}

/// <summary>The autoencoder's output activation.</summary>
public enum OutputActivation
{
    /// <summary>Sigmoid: outputs in (0, 1), matching inputs scaled to [0, 1] (the default for reconstruction).</summary>
    Sigmoid,

    /// <summary>None: a linear output (for standardised or raw inputs).</summary>
    None,
}

/// <summary>One part of an experiment: a network shape and the methods compared on it.</summary>
/// <param name="Name">Folder and report name ("one-hidden", "three-hidden").</param>
/// <param name="HiddenLayers">Hidden layers of the MLP (or of the MLP head on a conv backbone).</param>
/// <param name="InitialWidth">Start width of each hidden layer (paper: 16 for one layer, 10 for three; ×4 on CIFAR-100).</param>
/// <param name="Methods">Method names (<see cref="SweMethod.Parse"/>), in report order.</param>
public sealed record SwePart(string Name, int HiddenLayers, int InitialWidth, IReadOnlyList<string> Methods);

/// <summary>
/// A method of the growth experiments: the static baseline, or an extender and a distributor given by their preset
/// names (<see cref="GrowthMethods.ExtenderPresets"/>, <see cref="GrowthMethods.DistributorPresets"/>). Written
/// <c>baseline</c>, <c>&lt;extender&gt;+&lt;distributor&gt;</c>, or <c>&lt;name&gt;</c> alone: a name that is both an
/// extender and a distributor preset (Firefly) pairs with itself, any other extender takes the part's default
/// distributor (RAS for one hidden layer, where every distributor gives the one layer everything; SVoD for deeper nets).
/// A method whose presets are not registered is reported "not available" and skipped.
/// </summary>
/// <param name="Name">The name as written.</param>
/// <param name="Extender">Extender preset (null for the baseline).</param>
/// <param name="Distributor">Distributor preset (null for the baseline).</param>
public sealed record SweMethod(string Name, string? Extender, string? Distributor)
{
    /// <summary>The static baseline's name.</summary>
    public const string BaselineName = "baseline";

    /// <summary>Whether this is the static baseline.</summary>
    public bool IsBaseline => Extender is null;

    /// <summary>Whether its presets are registered (the baseline always is).</summary>
    public bool IsAvailable => IsBaseline
        || (GrowthMethods.ExtenderPresets.Contains(Extender!) && GrowthMethods.DistributorPresets.Contains(Distributor!));

    /// <summary>A name safe in a run name: '+' becomes '_'.</summary>
    public string SafeName => Name.Replace('+', '_');

    /// <summary>Reads a method name for a part with <paramref name="hiddenLayers"/> hidden layers.</summary>
    public static SweMethod Parse(string name, int hiddenLayers)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name == BaselineName) return new(name, null, null);
        int plus = name.IndexOf('+', StringComparison.Ordinal);
        if (plus > 0 && plus < name.Length - 1) return new(name, name[..plus], name[(plus + 1)..]);
        if (plus >= 0) throw new ArgumentException($"method '{name}': write <extender>+<distributor>, an extender alone, or baseline");
        string dist = GrowthMethods.DistributorPresets.Contains(name) || name == "firefly" ? name : hiddenLayers == 1 ? "ras" : "svod";
        return new(name, name, dist);
    }
}

/// <summary>
/// Settings of the paper-000 growth experiments (§3.2 reconstruction, Table 2; §3.3 classification, Table 3): every
/// protocol choice the paper leaves open is a field here, with the default stated by <see cref="Quick"/> and
/// <see cref="Paper"/> and printed by <see cref="Describe"/>.
/// </summary>
/// <param name="Task">Reconstruction (autoencoder, MSE) or classification.</param>
/// <param name="Datasets">Data sets (mnist, fashion-mnist, cifar10, cifar100).</param>
/// <param name="Parts">The network shapes and their methods.</param>
/// <param name="Seeds">Seeds 0, 1, …</param>
/// <param name="TrainSamples">Training samples (a stratified subset; 0 = all), before the validation split.</param>
/// <param name="Percent">Growth per stage in % of the current total hidden width (paper: 30).</param>
/// <param name="Stages">Growth stages (paper: 7).</param>
/// <param name="ValidationFraction">Share of the training samples held out for early stopping (stratified).</param>
/// <param name="Patience">Early-stopping patience (epochs without a better validation loss) of every training phase.</param>
/// <param name="MaxEpochs">Maximum epochs of every training phase (the initial one and each stage).</param>
/// <param name="Scaling">Input scaling of the pixels.</param>
/// <param name="Output">The autoencoder's output activation (reconstruction only).</param>
/// <param name="Budget">The static baseline's budget.</param>
/// <param name="WeightDecay">Decoupled weight decay (AdamW); 0 = Adam, as the paper states.</param>
/// <param name="BatchSize">Mini-batch size.</param>
/// <param name="LearningRate">Adam learning rate (paper: 1e-3).</param>
/// <param name="Scale">Which preset the settings came from.</param>
public sealed record SweGrowthOptions(GrowthTask Task, IReadOnlyList<string> Datasets, IReadOnlyList<SwePart> Parts, int Seeds,
    int TrainSamples, double Percent, int Stages, double ValidationFraction, int Patience, int MaxEpochs,
    InputScaling Scaling, OutputActivation Output, BaselineBudget Budget, double WeightDecay, int BatchSize, double LearningRate,
    ExperimentScale Scale)
{
    /// <summary>The training optimizer: Adam (the paper's; AdamW with <see cref="WeightDecay"/>), Adam with L2 weight
    /// decay added to the gradient (the authors' released code, with 1e-4), or SGD (with <see cref="LearningRate"/>).</summary>
    public TrainingOptimizer Optimizer { get; init; } = TrainingOptimizer.Adam;

    /// <summary>Early-stopping patience of the last stage (null: <see cref="Patience"/>). The paper is silent; the
    /// authors' script uses 30 there (20 elsewhere), which <see cref="Paper"/> follows.</summary>
    public int? LastPatience { get; init; }

    /// <summary>The patience the last stage uses.</summary>
    public int LastStagePatience => LastPatience ?? Patience;

    /// <summary>Table 2's methods: Baseline, Kaiming, Firefly, SWE, and ours.</summary>
    public static IReadOnlyList<string> ReconstructionMethods { get; } = ["baseline", "kaiming", "firefly", "swe", "swe-reference", "swe-plus"];

    /// <summary>Table 3(a)'s methods: Baseline, Firefly, SWE, and ours.</summary>
    public static IReadOnlyList<string> OneHiddenMethods { get; } = ["baseline", "firefly", "swe", "swe-reference", "swe-plus"];

    /// <summary>Table 3(b)'s methods: Baseline, Firefly, SWE+RAS, SWE+SVoD, and ours.</summary>
    public static IReadOnlyList<string> ThreeHiddenMethods { get; } = ["baseline", "firefly", "swe+ras", "swe+svod", "swe+svod-topn", "swe-plus+svod"];

    /// <summary>
    /// Quick scale (minutes per data set on 2 cores): 12,000 training samples (20% of them for validation), 2 seeds,
    /// the paper's 16 → 7 × +30% growth, early stopping with patience 3 and at most 15 epochs per phase.
    /// Reconstruction: inputs in [0, 1] and a sigmoid output; classification: standardised inputs.
    /// </summary>
    public static SweGrowthOptions Quick(GrowthTask task, IReadOnlyList<string> datasets, int seeds = 2) =>
        new(task, datasets, DefaultParts(task), seeds, 12000, 30, 7, 0.2, 3, 15,
            task == GrowthTask.Reconstruction ? InputScaling.Unit : InputScaling.Standardize, OutputActivation.Sigmoid,
            BaselineBudget.Total, 0, 100, 1e-3, ExperimentScale.Quick);

    /// <summary>
    /// Paper scale: all training samples (a stratified 80/20 train/validation split, as the authors' script), 5 seeds,
    /// 16 → 7 × +30%, early stopping with patience 20 (30 in the last stage) and at most 250 epochs per phase (the
    /// authors' script), Adam lr 1e-3 batch 100 without weight decay (the paper: no tuning).
    /// </summary>
    public static SweGrowthOptions Paper(GrowthTask task, IReadOnlyList<string> datasets, int seeds = 5) =>
        Quick(task, datasets, seeds) with { TrainSamples = 0, Patience = 20, LastPatience = 30, MaxEpochs = 250, Scale = ExperimentScale.Paper };

    /// <summary>The parts of an experiment: one hidden layer for reconstruction; one and three for classification.</summary>
    public static IReadOnlyList<SwePart> DefaultParts(GrowthTask task) => task == GrowthTask.Reconstruction
        ? [new SwePart("one-hidden", 1, 16, ReconstructionMethods)]
        : [new SwePart("one-hidden", 1, 16, OneHiddenMethods), new SwePart("three-hidden", 3, 10, ThreeHiddenMethods)];

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> with one clear line.</summary>
    public void Validate()
    {
        if (Datasets.Count == 0) throw new ArgumentException("no data set");
        foreach (var d in Datasets)
            if (!Data.DataCatalog.Names.Contains(d) && !RunData.SyntheticNames.Contains(d))
                throw new ArgumentException($"unknown data set '{d}'");
        if (Parts.Count == 0 || Parts.Any(p => p.Methods.Count == 0)) throw new ArgumentException("no method to run");
        foreach (var p in Parts)
            foreach (var m in p.Methods) SweMethod.Parse(m, p.HiddenLayers);
        if (Seeds < 1) throw new ArgumentException("--seeds must be ≥ 1");
        if (Parts.Any(p => p.InitialWidth < 1 || p.HiddenLayers < 1)) throw new ArgumentException("a part needs ≥ 1 hidden layer of ≥ 1 neuron");
        if (!(Percent > 0 && Percent <= 1000)) throw new ArgumentException($"--percent must be in (0, 1000], got {Percent}");
        if (Stages is < 0 or > 100) throw new ArgumentException($"--stages must be in 0..100, got {Stages}");
        if (!(ValidationFraction > 0 && ValidationFraction < 1)) throw new ArgumentException($"--validation must be in (0, 1), got {ValidationFraction}");
        if (Patience < 1) throw new ArgumentException("--patience must be ≥ 1");
        if (LastPatience is < 1) throw new ArgumentException("--last-patience must be ≥ 1");
        if (MaxEpochs < 1) throw new ArgumentException("--max-epochs must be ≥ 1");
        if (Task == GrowthTask.Reconstruction && Output == OutputActivation.Sigmoid && Scaling == InputScaling.Standardize)
            throw new ArgumentException("a sigmoid output cannot reconstruct standardised inputs: use --input-scaling unit, or --output-activation none");
        if (Task == GrowthTask.Reconstruction && Datasets.Any(d => d.StartsWith("cifar", StringComparison.Ordinal)))
            throw new ArgumentException("the reconstruction experiment runs on mnist and fashion-mnist (the paper's Table 2)");
    }

    /// <summary>Total hidden width after all stages from <paramref name="start"/> (the schedule's rounding).</summary>
    public int FinalWidth(int start)
    {
        int w = start;
        for (int s = 0; s < Stages; s++) w += GrowthSchedule.FromPercent(Percent, Stages).TotalFor(s, w);
        return w;
    }

    /// <summary>Start width of each hidden layer of <paramref name="part"/> on a data set (×4 on CIFAR-100).</summary>
    public static int WidthOn(string dataset, SwePart part)
    {
        ArgumentNullException.ThrowIfNull(part);
        return dataset == "cifar100" ? 4 * part.InitialWidth : part.InitialWidth;
    }

    /// <summary>Every protocol choice, one per line, as the report prints them.</summary>
    public IReadOnlyList<(string Choice, string Value)> Choices()
    {
        var ci = CultureInfo.InvariantCulture;
        var list = new List<(string, string)>
        {
            ("scale", Scale == ExperimentScale.Quick ? "quick" : "paper"),
            ("data", string.Join(", ", Datasets)),
            ("training samples", TrainSamples > 0 ? TrainSamples.ToString(ci) + " (stratified subset)" : "all"),
            ("validation split (--validation)", ValidationFraction.ToString("0.##", ci) + " of the training samples, stratified, per seed"),
            ("input scaling (--input-scaling)", Scaling switch { InputScaling.Unit => "unit: pixel / 255 in [0, 1]", InputScaling.Raw => "raw: 0..255", _ => "standardize: per-channel mean/std of the training set" }),
        };
        if (Task == GrowthTask.Reconstruction)
            list.Add(("autoencoder output (--output-activation)", Output == OutputActivation.Sigmoid ? "sigmoid" : "none (linear)"));
        list.Add(("network", string.Join("; ", Parts.Select(p => $"{p.Name}: {p.HiddenLayers} × {p.InitialWidth} hidden ReLU") ) +
            (Task == GrowthTask.Classification ? " (CIFAR: an MLP head of those widths, ×4 on CIFAR-100, on the paper's conv backbone, trained, fixed size)" : "")));
        list.Add(("growth", $"{Stages} stages of +{Percent.ToString("0.##", ci)}% of the current total hidden width ({string.Join(", ", Parts.Select(p => $"{p.HiddenLayers * p.InitialWidth} → {FinalWidth(p.HiddenLayers * p.InitialWidth)} in total for {p.Name}"))})"));
        list.Add(("stage end (--patience, --last-patience, --max-epochs)", $"early stopping on validation loss, patience {Patience}" +
            (LastStagePatience != Patience && Stages > 0 ? $" ({LastStagePatience} in the last stage)" : "") +
            $", at most {MaxEpochs} epochs, best weights restored (the initial training too)"));
        list.Add(("static baseline (--baseline-budget)", Budget == BaselineBudget.Total
            ? $"total: the final width from scratch, the same early stopping with the grown run's whole cap of {(Stages + 1) * MaxEpochs} epochs"
            : $"stage: the final width from scratch, one stage's rule (patience {Patience}, at most {MaxEpochs} epochs)"));
        list.Add(("optimizer (--optimizer, --weight-decay)", Optimizer switch
            {
                TrainingOptimizer.AdamL2 => $"Adam with L2 weight decay {WeightDecay.ToString(ci)} added to the gradient",
                TrainingOptimizer.Sgd => WeightDecay > 0 ? $"SGD with L2 weight decay {WeightDecay.ToString(ci)}" : "SGD",
                _ => WeightDecay > 0 ? $"AdamW (decoupled weight decay {WeightDecay.ToString(ci)})" : "Adam",
            } +
            $" lr {LearningRate.ToString(ci)}, batch {BatchSize}, state kept across growth"));
        list.Add(("loss", Task == GrowthTask.Reconstruction ? "MSE on pixels (the input is its own target)" : "cross-entropy"));
        list.Add(("seeds", Seeds.ToString(ci)));
        return list;
    }

    /// <summary>What the run does, in one sentence.</summary>
    public string Describe() => string.Join("; ", Choices().Select(c => $"{c.Choice}: {c.Value}")) + ".";
}
