using System.CommandLine;
using System.Globalization;
using Sprout.Data;
using Sprout.Experiments;
using Sprout.Runs;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>
/// <c>sprout experiment wib-relu</c> (paper 004) and <c>sprout experiment fcn-translation</c> (paper 003): training studies
/// without growth. Bad options are one line and exit 2 before any training; Ctrl+C stops at the next safe point and the
/// same command with the same <c>--out</c> continues.
/// </summary>
internal static class StudyCommands
{
    private static Option<double?> Real(string name, string description, double min, double max, string helpName, bool openLow = true) => new(name)
    {
        Description = description, HelpName = helpName,
        Validators =
        {
            r =>
            {
                if (r.GetValueOrDefault<double?>() is { } v && !(double.IsFinite(v) && (openLow ? v > min : v >= min) && v <= max))
                    r.AddError($"{r.Option.Name} must be in {(openLow ? "(" : "[")}{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}], got {v.ToString(CultureInfo.InvariantCulture)}");
            },
        },
    };

    private static Option<string[]?> Names(string name, string helpName, string description, IReadOnlyList<string> known, string what) =>
        Opt.List(name, helpName, description, s => known.Contains(s) ? (s, null) : ((string?)null, $"unknown {what} '{s}' (known: {Opt.Alternatives(known)})"));

    private static readonly IReadOnlyList<string> StudyDatasets = ["mnist", "fashion-mnist", "cifar10"];

    // --- wib-relu (paper 004) ---

    private static readonly Option<string[]?> WibDatasets = Names("--dataset", "D1,D2",
        "the data sets, comma-separated (default: fashion-mnist, and cifar10 when it is in the data folder)", StudyDatasets, "data set");
    private static readonly Option<string[]?> WibModels = Names("--models", "M1,M2",
        "the networks: paper (conv 8@5×5 s2, 16/32/64@3×3 s2, average pool, Linear 64 → 10) and code (the authors' code: 4 × conv + max-pool, Linear 128) (default: paper at quick scale, both at paper scale)",
        WibReluOptions.ModelNames, "model");
    private static readonly Option<string[]?> WibActivations = Names("--activations", "A1,A2,…",
        $"the activations compared (Figures 12–13): {Opt.Alternatives(WibReluOptions.ActivationNames)} (default: all)", WibReluOptions.ActivationNames, "activation");
    private static readonly Option<string> WibInit = Opt.Choice("--init", "the comparison's initialisation (the paper: Kaiming for all experiments)", "kaiming", WibReluOptions.InitNames);
    private static readonly Option<string[]?> WibInits = Names("--inits", "I1,I2,…",
        "the initialisation study's schemes: pytorch (U(±1/√fan_in)), kaiming (He normal), sqrt3 (gain √3, U(±3/√fan_in)), eq5 (N(0,1)/√fan_in) (default: all)",
        WibReluOptions.InitNames, "initialisation");
    private static readonly Option<string[]?> WibInitActivations = Opt.List("--init-activations", "A1,A2",
        "the activations of the initialisation study (default: relu,wib-relu,wib-post; 'none' turns the study off)",
        s => s == "none" || WibReluOptions.ActivationNames.Contains(s) ? (s, null) : ((string?)null, $"unknown activation '{s}' (known: {Opt.Alternatives(WibReluOptions.ActivationNames)}, or none)"));
    private static readonly Option<int?> WibEpochs = Opt.IntOrNull("--epochs", "training epochs (default: 5 quick, 20 paper — the paper's)", 1, 100_000);
    private static readonly Option<int?> WibBatch = Opt.IntOrNull("--batch", "batch size (default: 256, the paper's)", 2, 1_000_000, "B");
    private static readonly Option<double?> WibLr = Real("--lr", "Adam learning rate (default: 3e-4, the authors' code; the paper's \"0.4\" reads as a typo)", 0, 10, "LR");
    private static readonly Option<int?> WibTestSamples = Opt.IntOrNull("--test-samples", "validate on the first N test samples (default: all (0))", 0, 10_000_000);
    private static readonly Option<int?> WibStatsSteps = Opt.IntOrNull("--stats-steps", "activation statistics after every step up to this one (default: 150 quick, 250 paper)", 0, 10_000_000);
    private static readonly Option<int?> WibStatsEvery = Opt.IntOrNull("--stats-every", "… and every this many steps after it (default: 10 quick, 25 paper)", 1, 10_000_000);
    private static readonly Option<int?> WibProbe = Opt.IntOrNull("--probe-samples", "training samples in the fixed batch the statistics are measured on (default: 256)", 2, 100_000);
    private static readonly Option<double?> WibNearZero = Real("--near-zero-std", "a unit whose std over the probe batch is below this counts as nearly zero (default: 0.05; the paper gives none)", 0, 100, "S", openLow: false);

    /// <summary>The <c>experiment wib-relu</c> command.</summary>
    public static Command CreateWibRelu()
    {
        var c = new Command("wib-relu",
            "paper 004 (WIB-ReLU) Figures 7–13: the paper's CNN (and the authors' code's) with relu, leaky-relu, prelu, elu and each WIB-ReLU mode, " +
            "and the initialisation study (pytorch, kaiming, sqrt3, eq5) with per-layer activation mean/std over the steps and the share of units with nearly zero std; " +
            "loss and accuracy curves beside the paper's Fashion-MNIST numbers. " + StudyTimes.Wib)
        {
            WibDatasets, SharedOptions.Scale, SharedOptions.Seeds, WibModels, WibActivations, WibInit, WibInits, WibInitActivations, WibEpochs, WibBatch, WibLr,
            SharedOptions.TrainSamples, WibTestSamples, WibStatsSteps, WibStatsEvery, WibProbe, WibNearZero,
            SharedOptions.DataDir, SharedOptions.Out, SharedOptions.Json, SharedOptions.Threads,
        };
        c.SetAction(WibRelu);
        return c;
    }

    private static int WibRelu(ParseResult a)
    {
        string scale = a.GetValue(SharedOptions.Scale)!;
        string dataDir = DataDirectory.Resolve(a.GetValue(SharedOptions.DataDir));
        var datasets = a.Given(WibDatasets)?.Distinct().ToArray()
                       ?? (DataCatalog.IsPresent(DataCatalog.Cifar10, dataDir) ? ["fashion-mnist", "cifar10"] : ["fashion-mnist"]);
        int seeds = a.GetValue(SharedOptions.Seeds) ?? (scale == "quick" ? 1 : 3);
        var o = scale == "quick" ? WibReluOptions.Quick(datasets, seeds) : WibReluOptions.Paper(datasets, seeds);
        if (a.Given(WibModels) is { } models) o = o with { Models = models.Distinct().ToArray() };
        if (a.Given(WibActivations) is { } acts) o = o with { Activations = acts.Distinct().ToArray() };
        if (a.GetResult(WibInit) is { Implicit: false }) o = o with { ComparisonInit = a.GetValue(WibInit)! };
        if (a.Given(WibInits) is { } inits) o = o with { Inits = inits.Distinct().ToArray() };
        if (a.Given(WibInitActivations) is { } ia) o = o with { InitStudyActivations = ia.Contains("none") ? [] : ia.Distinct().ToArray() };
        if (a.GetValue(WibEpochs) is { } ep) o = o with { Epochs = ep };
        if (a.GetValue(WibBatch) is { } b) o = o with { BatchSize = b };
        if (a.GetValue(WibLr) is { } lr) o = o with { LearningRate = lr };
        if (a.GetResult(SharedOptions.TrainSamples) is { Implicit: false }) o = o with { TrainSamples = a.GetValue(SharedOptions.TrainSamples) };
        if (a.GetValue(WibTestSamples) is { } ts) o = o with { TestSamples = ts };
        if (a.GetValue(WibStatsSteps) is { } ss) o = o with { StatsEveryStepUntil = ss };
        if (a.GetValue(WibStatsEvery) is { } se) o = o with { StatsThenEvery = se };
        if (a.GetValue(WibProbe) is { } ps) o = o with { ProbeSamples = ps };
        if (a.GetValue(WibNearZero) is { } nz) o = o with { NearZeroStd = nz };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        return RunStudy(a, "wib-relu", o.Datasets, dataDir, o.Choices(), "<data set>/<network>/<activation>-<init>/seed-<n> (a run group per arm)",
            (outDir, progress, stop) => WibReluExperiment.Run(o, ds => RunData.Load(ds, dataDir, null, InputScaling.Standardize), outDir,
                line => progress.WriteLine(line), stop),
            (runs, outDir, minutes) => WibReluReport.Write(o, runs, outDir, minutes));
    }

    // --- fcn-translation (paper 003) ---

    private static Option<double[]?> Levels(string name, string description, double max) => Opt.List<double>(name, "A1,A2,…", description,
        s => s == "none" ? (double.NaN, null)
            : double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= 0 && v <= max
                ? (v, null) : (0, $"'{s}' is not a level in [0, {max.ToString(CultureInfo.InvariantCulture)}] (or none)"));

    private static readonly Option<string[]?> FcnDatasets = Names("--dataset", "D1,D2",
        "the data sets, comma-separated: mnist, cifar10 (default: mnist, and cifar10 when it is in the data folder)", ["mnist", "cifar10"], "data set");
    private static readonly Option<string[]?> FcnArchitectures = Names("--architectures", "A1,A2", "the networks: cnn, fcn (default: both)",
        FcnTranslationOptions.ArchitectureNames, "architecture");
    private static readonly Option<double[]?> FcnTranslation = Levels("--translation", "translation levels of Tables 1–2 (default: 0,0.1,0.3 quick; 0,0.1,…,0.9,0.99 paper; none: skip)", 1);
    private static readonly Option<double[]?> FcnEdgeNoise = Levels("--edge-noise", "edge-noise σ levels of Table B.1 (default: 0.5 quick; the paper's 11 at paper scale; none: skip)", 10);
    private static readonly Option<double[]?> FcnNoise = Levels("--noise", "noise σ levels of Table B.2 (default: 0.5 quick; the paper's 11; none: skip)", 10);
    private static readonly Option<double[]?> FcnRotation = Levels("--rotation", "rotation levels a (±int(a·360)°) of Table B.3 (default: 0.2 quick; the paper's 11; none: skip)", 1);
    private static readonly Option<double[]?> FcnVcp = Levels("--vcp", "severed shares of the variable-connection FCNs, Figures C.1–C.2 (default: 0.5,0.9 quick; the paper's 11; none: skip)", 0.999);
    private static readonly Option<double?> FcnVcpTranslation = Real("--vcp-translation", "translation of the variable-connection runs (default: 0.3, the paper's)", 0, 1, "A", openLow: false);
    private static readonly Option<string> FcnVcpMask = Opt.Choice("--vcp-mask", "sever weights per filter and position (the paper) or input pixels (the authors' code)", "weight", ["weight", "input"]);
    private static readonly Option<int?> FcnFolds = Opt.IntOrNull("--folds", "k of the k-fold cross-validation (default: 5, the paper's)", 2, 100, "K");
    private static readonly Option<int[]?> FcnRunFolds = Opt.List("--run-folds", "F1,F2,…", "which folds to run, 0-based (default: 0 quick, all at paper scale)", s => Opt.IntItem(s, 0, 99));
    private static readonly Option<int?> FcnPool = Opt.IntOrNull("--pool-samples", "a stratified subset of the merged train + test images (default: 10,000 quick, all at paper scale; 0: all)", 0, 10_000_000);
    private static readonly Option<int?> FcnEpochs = Opt.IntOrNull("--epochs", "most epochs (default: 5 quick; 250 paper, ×2 on CIFAR)", 1, 100_000);
    private static readonly Option<int?> FcnPatience = Opt.IntOrNull("--patience", "early stopping on the held-out fold's loss, best weights kept (default: 0 = off quick; 50 paper, ×2 on CIFAR)", 0, 100_000);
    private static readonly Option<int?> FcnBatch = Opt.IntOrNull("--batch", "batch size (default: 256 MNIST / 128 CIFAR, the paper's)", 1, 1_000_000, "B");
    private static readonly Option<double?> FcnLr = Real("--lr", "Adam learning rate (default: 1e-3 MNIST / 1e-4 CIFAR, the paper's)", 0, 10, "LR");
    private static readonly Option<int[]?> FcnRadii = Opt.List("--radii", "R1,R2", "Chebyshev radii of the filter distances (default: 1,4, the paper's)", s => Opt.IntItem(s, 1, 64));

    /// <summary>The <c>experiment fcn-translation</c> command.</summary>
    public static Command CreateFcnTranslation()
    {
        var c = new Command("fcn-translation",
            "paper 003 (Free Convolutional Networks) Tables 1–2, B.1–B.3, Figures 3–6, B.6–B.7, C.1–C.2: CNN vs FCN (locally connected) on MNIST (and CIFAR-10), " +
            "train + test merged, k-fold cross-validation, trained with translation (or edge noise, noise, rotation) augmentation; per epoch the held-out fold clean, " +
            "translated, rotated, noisy, edge-noised and quadrant-swapped; the FCN's filter distances at radius 1 and 4; FCNs with severed connections. " + StudyTimes.Fcn)
        {
            FcnDatasets, SharedOptions.Scale, FcnArchitectures, FcnTranslation, FcnEdgeNoise, FcnNoise, FcnRotation, FcnVcp, FcnVcpTranslation, FcnVcpMask,
            FcnFolds, FcnRunFolds, FcnPool, FcnEpochs, FcnPatience, FcnBatch, FcnLr, FcnRadii, SharedOptions.Seed,
            SharedOptions.DataDir, SharedOptions.Out, SharedOptions.Json, SharedOptions.Threads,
        };
        c.SetAction(FcnTranslationCmd);
        return c;
    }

    private static double[] LevelList(double[] given) => given.Where(double.IsFinite).Distinct().ToArray();

    private static int FcnTranslationCmd(ParseResult a)
    {
        string scale = a.GetValue(SharedOptions.Scale)!;
        string dataDir = DataDirectory.Resolve(a.GetValue(SharedOptions.DataDir));
        var datasets = a.Given(FcnDatasets)?.Distinct().ToArray()
                       ?? (DataCatalog.IsPresent(DataCatalog.Cifar10, dataDir) ? ["mnist", "cifar10"] : ["mnist"]);
        var o = scale == "quick" ? FcnTranslationOptions.Quick(datasets) : FcnTranslationOptions.Paper(datasets);
        if (a.Given(FcnArchitectures) is { } arch) o = o with { Architectures = arch.Distinct().ToArray() };
        if (a.Given(FcnTranslation) is { } t) o = o with { TranslationLevels = LevelList(t) };
        if (a.Given(FcnEdgeNoise) is { } en) o = o with { EdgeNoiseLevels = LevelList(en) };
        if (a.Given(FcnNoise) is { } n) o = o with { NoiseLevels = LevelList(n) };
        if (a.Given(FcnRotation) is { } r) o = o with { RotationLevels = LevelList(r) };
        if (a.Given(FcnVcp) is { } v) o = o with { VcpLevels = LevelList(v) };
        if (a.GetValue(FcnVcpTranslation) is { } vt) o = o with { VcpTranslation = vt };
        o = o with { VcpMask = a.GetValue(FcnVcpMask) == "input" ? Sprout.Nn.LcMask.Input : Sprout.Nn.LcMask.Weight };
        if (a.GetValue(FcnFolds) is { } k) o = o with { Folds = k, FoldsRun = scale == "quick" ? [0] : Enumerable.Range(0, k).ToArray() };
        if (a.Given(FcnRunFolds) is { } rf) o = o with { FoldsRun = rf.Distinct().ToArray() };
        if (a.GetValue(FcnPool) is { } pool) o = o with { PoolSamples = pool };
        if (a.GetValue(FcnEpochs) is { } ep) o = o with { MaxEpochs = ep };
        if (a.GetValue(FcnPatience) is { } pat) o = o with { Patience = pat };
        if (a.GetValue(FcnBatch) is { } b) o = o with { BatchSize = b };
        if (a.GetValue(FcnLr) is { } lr) o = o with { LearningRate = lr };
        if (a.Given(FcnRadii) is { } radii) o = o with { Radii = radii.Distinct().ToArray() };
        if (a.GetResult(SharedOptions.Seed) is { Implicit: false })
            o = o with { Seed = a.GetValue(SharedOptions.Seed) is var seed && seed <= int.MaxValue ? (int)seed : throw new UsageException($"--seed must be at most {int.MaxValue} here, got {seed}") };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        return RunStudy(a, "fcn-translation", o.Datasets, dataDir, o.Choices(), "<data set>/<study>/<network>/<level>/fold-<k> (a run group per run)",
            (outDir, progress, stop) => FcnTranslationExperiment.Run(o, ds => RunData.Load(ds, dataDir, null, InputScaling.Unit), outDir,
                line => progress.WriteLine(line), stop),
            (runs, outDir, minutes) => FcnTranslationReport.Write(o, runs, outDir, minutes));
    }

    // The common tail of a study command: the output folder, the data checked before any training, the choices printed,
    // the runs (Ctrl+C stops at the next safe point; the same --out continues), then the report on stdout (or its JSON).
    private static int RunStudy<TRuns>(ParseResult a, string name, IEnumerable<string> datasets, string dataDir,
        IEnumerable<(string Choice, string Value)> choices, string layout, Func<string, TextWriter, StopSignal, TRuns> run,
        Func<TRuns, string, double, string> write) where TRuns : class
    {
        bool json = a.GetValue(SharedOptions.Json);
        string outDir = a.GetValue(SharedOptions.Out) ?? Path.Combine("runs", RunFiles.TimestampedName(name, DateTime.UtcNow));
        SharedOptions.ApplyThreads(a);
        foreach (var ds in datasets) ExperimentCommands.RequirePresent(ds, dataDir);   // fail fast, before any training
        Directory.CreateDirectory(outDir);
        var progress = json ? Console.Error : Console.Out;
        foreach (var (ch, val) in choices) progress.WriteLine($"{ch}: {val}");
        progress.WriteLine($"run folders in {outDir}/{layout}");
        var started = DateTime.UtcNow;
        TRuns? runs = null;
        int code = ExperimentCommands.WithStop(outDir, name, stop => runs = run(outDir, progress, stop));
        if (code != 0) return code;
        double minutes = (DateTime.UtcNow - started).TotalMinutes;
        string md = write(runs!, outDir, minutes);
        Console.WriteLine(json ? File.ReadAllText(Path.Combine(outDir, "results.json")) : md);
        progress.WriteLine($"results in {outDir} (results.md, results.json, charts/), {minutes:F1} min");
        return 0;
    }
}

/// <summary>Measured wall times of the training studies on this project's 2-core machine, for their help.</summary>
internal static class StudyTimes
{
    public const string Wib = "Quick scale: about 4 min on this project's 2 shared cores (17 runs of 5 Fashion-MNIST epochs); paper scale: about 1 min " +
        "per 20-epoch run of the paper's network and 2.4 min of the authors', about 3 h for 3 seeds × both networks (docs/papers-003-004.md).";
    public const string Fcn = "Quick scale: about 5 min on this project's 2 shared cores (14 runs on a 10,000-image MNIST pool); paper scale: 11–12 s (CNN) and " +
        "28–31 s (FCN) per epoch of a 56,000-image MNIST fold, about 90 h for Table 1 and 350 h for the whole MNIST study (docs/papers-003-004.md).";
}
