using System.Globalization;
using Sprout.Data;
using Sprout.Nn;

namespace Sprout.Experiments;

/// <summary>The studies of paper 003: the training augmentation a run uses, or the variable connection patterns.</summary>
public enum FcnStudy
{
    /// <summary>Translation augmentation (Tables 1–2, Figures 3–5): shifts up to ±a of the size, nearest fill.</summary>
    Translation,
    /// <summary>Edge-noise augmentation (Table B.1): Gaussian noise σ = a on the 5-pixel border.</summary>
    EdgeNoise,
    /// <summary>Noise augmentation (Table B.2, Figure B.7): Gaussian noise σ = a on every pixel.</summary>
    Noise,
    /// <summary>Rotation augmentation (Table B.3, Figure B.6): rotations up to ±int(a·360)°.</summary>
    Rotation,
    /// <summary>Variable connection patterns (Figures C.1–C.2): FCNs with a share a of connections severed, trained with
    /// translation augmentation.</summary>
    Vcp,
}

/// <summary>One run of the study at one fold: which study, network and level.</summary>
/// <param name="Study">The study.</param>
/// <param name="Architecture"><c>cnn</c> or <c>fcn</c>.</param>
/// <param name="Level">The augmentation level a (or the severed share for <see cref="FcnStudy.Vcp"/>).</param>
public sealed record FcnRun(FcnStudy Study, string Architecture, double Level)
{
    /// <summary>The study's folder name.</summary>
    public static string StudyName(FcnStudy study) => study switch
    {
        FcnStudy.Translation => "translation",
        FcnStudy.EdgeNoise => "edge-noise",
        FcnStudy.Noise => "noise",
        FcnStudy.Rotation => "rotation",
        _ => "vcp",
    };

    /// <summary>The level as a folder name ("0.30").</summary>
    public string LevelName => Level.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>The run group's folder below the data set: <c>&lt;study&gt;/&lt;architecture&gt;/&lt;level&gt;</c>.</summary>
    public string Folder => Path.Combine(StudyName(Study), Architecture, LevelName);
}

/// <summary>
/// Settings of paper 003's study (Ott et al., Free Convolutional Networks): CNN against FCN (Table A.2), train and test
/// merged and split by k-fold cross-validation (no shuffle, as the authors' KFold), translation augmentation 0–99%,
/// the other augmentations of Appendix B, the variable connection patterns of Appendix C; per epoch the held-out fold
/// clean, 25% translated, rotated, noisy, edge-noised and quadrant-swapped; the first FCN layer's filter distances at
/// Chebyshev radius 1 and 4. Set by <see cref="Quick"/> and <see cref="Paper"/>, printed by <see cref="Choices"/>.
/// </summary>
/// <param name="Datasets">Data sets (paper: mnist, cifar10).</param>
/// <param name="Architectures">cnn and/or fcn.</param>
/// <param name="TranslationLevels">Translation levels (paper: 0, 0.1, …, 0.9, 0.99).</param>
/// <param name="EdgeNoiseLevels">Edge-noise σ levels (Table B.1; 0 is the translation study's 0 run).</param>
/// <param name="NoiseLevels">Noise σ levels (Table B.2).</param>
/// <param name="RotationLevels">Rotation levels (Table B.3).</param>
/// <param name="VcpLevels">Severed shares of the variable-connection FCNs (Figures C.1–C.2; 0 is the translation study's
/// FCN at <see cref="VcpTranslation"/>).</param>
/// <param name="VcpTranslation">Translation level of the variable-connection runs (paper: 30%, or 20% in one caption).</param>
/// <param name="VcpMask">How connections are severed: per weight (the paper) or per input pixel (the authors' code).</param>
/// <param name="Folds">k of the k-fold split (paper: 5).</param>
/// <param name="FoldsRun">Which folds run (0-based; paper: all).</param>
/// <param name="PoolSamples">Samples of the merged train + test pool (a stratified subset; 0 = all).</param>
/// <param name="MaxEpochs">Most epochs (paper: 250 MNIST / 500 CIFAR).</param>
/// <param name="Patience">Early-stopping patience on the held-out fold's loss, best weights kept (0: none, train
/// <see cref="MaxEpochs"/>; the authors: 50 / 100 on its accuracy).</param>
/// <param name="BatchSize">Batch size (0: the paper's, 256 MNIST / 128 CIFAR).</param>
/// <param name="LearningRate">Adam learning rate (0: the paper's, 1e-3 MNIST / 1e-4 CIFAR).</param>
/// <param name="EvalTranslate">Translation of the translated evaluation fold (paper: 0.25).</param>
/// <param name="EvalRotate">Rotation range of the rotated fold in degrees (the authors' code: 45).</param>
/// <param name="EvalNoise">σ of the noisy fold (the authors' code: 0.15).</param>
/// <param name="EvalEdgeNoise">σ of the edge-noised fold (the authors' code: 0.15).</param>
/// <param name="Radii">Chebyshev radii of the filter distances (paper: 1, 4).</param>
/// <param name="Seed">Seed of every run (the authors: 0).</param>
/// <param name="Scale">Which preset the settings came from.</param>
public sealed record FcnTranslationOptions(IReadOnlyList<string> Datasets, IReadOnlyList<string> Architectures, IReadOnlyList<double> TranslationLevels,
    IReadOnlyList<double> EdgeNoiseLevels, IReadOnlyList<double> NoiseLevels, IReadOnlyList<double> RotationLevels, IReadOnlyList<double> VcpLevels,
    double VcpTranslation, LcMask VcpMask, int Folds, IReadOnlyList<int> FoldsRun, int PoolSamples, int MaxEpochs, int Patience, int BatchSize,
    double LearningRate, double EvalTranslate, double EvalRotate, double EvalNoise, double EvalEdgeNoise, IReadOnlyList<int> Radii, int Seed,
    ExperimentScale Scale)
{
    /// <summary>The networks.</summary>
    public static IReadOnlyList<string> ArchitectureNames { get; } = ["cnn", "fcn"];

    /// <summary>The paper's levels: 0, 0.1, …, 0.9, 0.99.</summary>
    public static IReadOnlyList<double> PaperLevels { get; } = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99];

    /// <summary>The evaluation folds' names, in order: the clean held-out fold, then its transformed copies.</summary>
    public static IReadOnlyList<string> EvalNames { get; } = ["clean", "translated", "rotated", "noisy", "edge-noise", "quadrant-swap"];

    /// <summary>
    /// Quick scale (minutes on 2 cores): MNIST, a stratified pool of 10,000 of the merged 70,000 images, fold 0 of 5
    /// (8,000 training, 2,000 held out), 5 epochs without early stopping; translation 0, 0.1, 0.3; edge noise, noise 0.5
    /// and rotation 0.2; severed 0.5 and 0.9 (FCN, 30% translation).
    /// </summary>
    public static FcnTranslationOptions Quick(IReadOnlyList<string> datasets) =>
        new(datasets, ArchitectureNames, [0, 0.1, 0.3], [0.5], [0.5], [0.2], [0.5, 0.9], 0.3, LcMask.Weight, 5, [0], 10_000, 5, 0, 0, 0,
            0.25, 45, 0.15, 0.15, [1, 4], 0, ExperimentScale.Quick);

    /// <summary>
    /// Paper scale: all 70,000 (MNIST) / 60,000 (CIFAR-10) images, all 5 folds, every level of every study, at most 250
    /// (MNIST) epochs with early stopping (patience 50) on the held-out fold's loss, best weights kept.
    /// </summary>
    public static FcnTranslationOptions Paper(IReadOnlyList<string> datasets) =>
        Quick(datasets) with
        {
            TranslationLevels = PaperLevels, EdgeNoiseLevels = PaperLevels, NoiseLevels = PaperLevels, RotationLevels = PaperLevels, VcpLevels = PaperLevels,
            FoldsRun = [0, 1, 2, 3, 4], PoolSamples = 0, MaxEpochs = 250, Patience = 50, Scale = ExperimentScale.Paper,
        };

    /// <summary>Whether a data set is CIFAR (its network and the paper's CIFAR settings).</summary>
    public static bool IsCifar(string dataset) => dataset.StartsWith("cifar", StringComparison.Ordinal);

    /// <summary>The batch size on a data set.</summary>
    public int BatchOn(string dataset) => BatchSize > 0 ? BatchSize : IsCifar(dataset) ? 128 : 256;

    /// <summary>The learning rate on a data set.</summary>
    public double LrOn(string dataset) => LearningRate > 0 ? LearningRate : IsCifar(dataset) ? 1e-4 : 1e-3;

    /// <summary>The epochs cap on a data set (CIFAR at paper scale: twice MNIST's, as the paper's 500 to 250).</summary>
    public int EpochsOn(string dataset) => Scale == ExperimentScale.Paper && IsCifar(dataset) ? 2 * MaxEpochs : MaxEpochs;

    /// <summary>The patience on a data set (CIFAR at paper scale: twice, as the paper's 100 to 50).</summary>
    public int PatienceOn(string dataset) => Scale == ExperimentScale.Paper && IsCifar(dataset) ? 2 * Patience : Patience;

    /// <summary>The levels of a study.</summary>
    public IReadOnlyList<double> LevelsOf(FcnStudy study) => study switch
    {
        FcnStudy.Translation => TranslationLevels,
        FcnStudy.EdgeNoise => EdgeNoiseLevels,
        FcnStudy.Noise => NoiseLevels,
        FcnStudy.Rotation => RotationLevels,
        _ => VcpLevels,
    };

    /// <summary>The architectures of a study (the variable connection patterns are FCN-only).</summary>
    public IReadOnlyList<string> ArchitecturesOf(FcnStudy study) => study == FcnStudy.Vcp ? Architectures.Where(a => a == "fcn").ToArray() : Architectures;

    /// <summary>
    /// The run that stands for (study, architecture, level): level 0 of edge noise, noise and rotation is the
    /// translation study's 0 (no augmentation); severed share 0 is the translation study's FCN at
    /// <see cref="VcpTranslation"/> when that level is run.
    /// </summary>
    public FcnRun Canonical(FcnRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (run.Study is FcnStudy.EdgeNoise or FcnStudy.Noise or FcnStudy.Rotation && run.Level == 0) return run with { Study = FcnStudy.Translation };
        if (run.Study == FcnStudy.Vcp && run.Level == 0 && TranslationLevels.Contains(VcpTranslation) && Architectures.Contains("fcn"))
            return new FcnRun(FcnStudy.Translation, "fcn", VcpTranslation);
        return run;
    }

    /// <summary>Every distinct run (canonical), in report order: translation, edge noise, noise, rotation, variable connections.</summary>
    public IReadOnlyList<FcnRun> Runs()
    {
        var list = new List<FcnRun>();
        foreach (var study in Enum.GetValues<FcnStudy>())
            foreach (var arch in ArchitecturesOf(study))
                foreach (var level in LevelsOf(study))
                {
                    var r = Canonical(new FcnRun(study, arch, level));
                    if (!list.Contains(r)) list.Add(r);
                }
        return list;
    }

    /// <summary>The training augmentation of a run (null: none).</summary>
    public AugmentationConfig? AugmentationOf(FcnRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var a = run.Study switch
        {
            FcnStudy.Translation => new AugmentationConfig(Translate: run.Level),
            FcnStudy.EdgeNoise => new AugmentationConfig(EdgeNoise: run.Level),
            FcnStudy.Noise => new AugmentationConfig(Noise: run.Level),
            FcnStudy.Rotation => new AugmentationConfig(Rotate: (int)(run.Level * 360)),
            _ => new AugmentationConfig(Translate: VcpTranslation),
        };
        return a.IsIdentity ? null : a;
    }

    /// <summary>The network of a run on a data set.</summary>
    public SequentialConfig NetworkOf(FcnRun run, string dataset, int classes)
    {
        ArgumentNullException.ThrowIfNull(run);
        bool vcp = run.Study == FcnStudy.Vcp && run.Level > 0;
        return Models.FreeConvNet(IsCifar(dataset), run.Architecture == "fcn", classes, vcp ? VcpMask : LcMask.None, vcp ? run.Level : 0);
    }

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> with one clear line.</summary>
    public void Validate()
    {
        if (Datasets.Count == 0) throw new ArgumentException("no data set");
        foreach (var d in Datasets)
            if (d is not ("mnist" or "cifar10")) throw new ArgumentException($"unknown data set '{d}' (the paper's networks are for mnist and cifar10)");
        if (Architectures.Count == 0) throw new ArgumentException("no architecture");
        foreach (var a in Architectures)
            if (!ArchitectureNames.Contains(a)) throw new ArgumentException($"unknown architecture '{a}' (known: {string.Join(", ", ArchitectureNames)})");
        foreach (var (name, levels, max) in new[] { ("--translation", TranslationLevels, 1.0), ("--edge-noise", EdgeNoiseLevels, 10.0), ("--noise", NoiseLevels, 10.0),
                     ("--rotation", RotationLevels, 1.0), ("--vcp", VcpLevels, 0.999) })
            foreach (double l in levels)
                if (!(l >= 0 && l <= max)) throw new ArgumentException($"{name} levels must be in [0, {max.ToString(CultureInfo.InvariantCulture)}], got {l.ToString(CultureInfo.InvariantCulture)}");
        if (!(VcpTranslation >= 0 && VcpTranslation <= 1)) throw new ArgumentException($"--vcp-translation must be in [0, 1], got {VcpTranslation}");
        if (VcpMask == LcMask.None || !Enum.IsDefined(VcpMask)) throw new ArgumentException("--vcp-mask must be weight or input");
        if (Runs().Count == 0) throw new ArgumentException("no run: every study is empty");
        if (Folds is < 2 or > 100) throw new ArgumentException($"--folds must be in 2..100, got {Folds}");
        if (FoldsRun.Count == 0) throw new ArgumentException("--run-folds needs at least one fold");
        foreach (int f in FoldsRun)
            if (f < 0 || f >= Folds) throw new ArgumentException($"--run-folds: fold {f} is not in 0..{Folds - 1}");
        if (PoolSamples < 0) throw new ArgumentException("--pool-samples must be ≥ 0");
        if (PoolSamples is > 0 and < 100) throw new ArgumentException($"--pool-samples must be 0 (all) or ≥ 100, got {PoolSamples}");
        if (MaxEpochs is < 1 or > 100_000) throw new ArgumentException($"--epochs must be in 1..100000, got {MaxEpochs}");
        if (Patience is < 0 or > 100_000) throw new ArgumentException($"--patience must be in 0..100000, got {Patience}");
        if (BatchSize is < 0 or > 1_000_000) throw new ArgumentException($"--batch must be in 1..1000000, got {BatchSize}");
        if (!(LearningRate >= 0 && LearningRate <= 10)) throw new ArgumentException($"--lr must be in (0, 10], got {LearningRate}");
        if (!(EvalTranslate >= 0 && EvalTranslate <= 1)) throw new ArgumentException($"the translated fold's shift must be in [0, 1], got {EvalTranslate}");
        if (!(EvalRotate >= 0 && EvalRotate <= 360)) throw new ArgumentException($"the rotated fold's range must be in [0, 360], got {EvalRotate}");
        if (!(EvalNoise >= 0 && EvalNoise <= 10 && EvalEdgeNoise >= 0 && EvalEdgeNoise <= 10)) throw new ArgumentException("the noisy folds' σ must be in [0, 10]");
        if (Radii.Count == 0 || Radii.Any(r => r is < 1 or > 64)) throw new ArgumentException("--radii must be in 1..64");
        if (Seed < 0) throw new ArgumentException("--seed must be ≥ 0");
    }

    /// <summary>Every protocol choice, one per line, as the report prints them.</summary>
    public IReadOnlyList<(string Choice, string Value)> Choices()
    {
        var ci = CultureInfo.InvariantCulture;
        string L(IReadOnlyList<double> l) => l.Count == 0 ? "none" : string.Join(", ", l.Select(v => v.ToString("0.##", ci)));
        return
        [
            ("scale", Scale == ExperimentScale.Quick ? "quick (a sample pool, one fold, few epochs and levels: see below)" : "paper"),
            ("data", string.Join(", ", Datasets) + ": training and test sets merged, pixels / 255 (the authors' code)"),
            ("pool (--pool-samples)", PoolSamples > 0 ? $"a stratified {PoolSamples.ToString("N0", ci)} of the merged images" : "all merged images"),
            ("cross-validation (--folds, --run-folds)", $"{Folds}-fold, contiguous folds without shuffle (the authors' KFold); folds run: {string.Join(", ", FoldsRun)}; tables: median over the folds run"),
            ("networks (--architectures)", string.Join(", ", Architectures) + " (Table A.2: MNIST (3×3,32,s2)-(3×3,64,s2)-(3×3,128,s1)-1024-10; CIFAR (5×5,64,s2)-(5×5,128,s2)-(3×3,256,s1)-1024-10; ReLU, valid padding; " +
                "Xavier-uniform, the locally connected layers with Keras's fans fan_in = P·K, fan_out = P·F)"),
            ("training (--epochs, --patience, --batch, --lr)", $"Adam, lr {(LearningRate > 0 ? LearningRate.ToString(ci) : "1e-3 MNIST / 1e-4 CIFAR")}, batch {(BatchSize > 0 ? BatchSize.ToString(ci) : "256 MNIST / 128 CIFAR")}, " +
                (Patience > 0 ? $"at most {MaxEpochs} epochs (CIFAR ×2 at paper scale) with early stopping on the held-out fold's loss, patience {Patience} (CIFAR ×2), best weights kept (the authors: on its accuracy)"
                              : $"{MaxEpochs} epochs, no early stopping") + "; reported values are those of the kept epoch"),
            ("translation study (--translation)", L(TranslationLevels) + ": shifts uniform in ±a of width and height, bilinear, nearest fill"),
            ("other augmentations (--edge-noise, --noise, --rotation)", $"edge noise σ {L(EdgeNoiseLevels)} (5-pixel border); noise σ {L(NoiseLevels)}; rotation a {L(RotationLevels)} (±int(a·360)°); level 0 is the translation study's 0"),
            ("variable connections (--vcp, --vcp-translation, --vcp-mask)", $"FCN with {L(VcpLevels)} of its {(VcpMask == LcMask.Weight ? "weights (per filter and position: the paper)" : "input pixels (the authors' code)")} severed, fixed, trained with {VcpTranslation.ToString("0.##", ci)} translation"),
            ("evaluation folds", $"per epoch on the held-out fold: clean; translated ±{EvalTranslate.ToString(ci)}; rotated ±{EvalRotate.ToString(ci)}°; noisy σ {EvalNoise.ToString(ci)}; edge noise σ {EvalEdgeNoise.ToString(ci)}; quadrant-swapped (I ↔ III); the random transforms drawn once per fold"),
            ("filter distances (--radii)", $"first FCN layer, Chebyshev radius {string.Join(", ", Radii)}: mean Euclidean distance of the position blocks / ‖W‖_F, and mean cosine distance, at initialisation and after every epoch"),
            ("seed (--seed)", Seed.ToString(ci)),
        ];
    }

    /// <summary>What the run does, in one sentence.</summary>
    public string Describe() => string.Join("; ", Choices().Select(c => $"{c.Choice}: {c.Value}")) + ".";
}
