using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Sprout.Data;
using Sprout.Experiments;
using Sprout.Growth;
using Sprout.Runs;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>
/// <c>sprout experiment …</c>: reproductions of paper experiments. Bad input is one line on stderr and a non-zero
/// exit (2 for usage errors, 1 for missing data or other failures).
/// </summary>
internal static class ExperimentCommands
{
    /// <summary><c>--dataset</c> of swe-inactive, which can run both data sets.</summary>
    private static readonly Option<string> DatasetOrBoth = Opt.Choice("--dataset", "the data set(s) to run on", "both",
        [.. SharedOptions.ImageDatasets, "both"], new Dictionary<string, string> { ["fmnist"] = "fashion-mnist" });
    private static readonly Option<double> WeightDecay = Opt.Double("--weight-decay",
        "weight decay (0: none; decoupled, AdamW, with adam; L2 with adaml2 and sgd)", 0, 0, 10, "WD");
    private static readonly Option<Sprout.Optim.GrowthStatePolicy?> OptimizerOnGrowth = Opt.Enum<Sprout.Optim.GrowthStatePolicy>(
        "--optimizer-on-growth", "what the optimizer's state does when a layer grows (default: the experiment's)");

    private static readonly Option<TrainingOptimizer?> OptimizerOpt = Opt.Enum<TrainingOptimizer>("--optimizer",
        "the training optimizer (default: adam, the paper's; adaml2: Adam with L2 --weight-decay, the authors' code; sgd)");
    private static readonly Option<string> ProtocolOpt = Opt.Choice("--protocol",
        "default, or raw-sgd (raw pixels, SGD lr 0.01: reproduces the magnitude of the paper's Table 1 by breaking training; explicit options override it)",
        "default", SweInactiveOptions.Protocols);
    private static readonly Option<double> LrOpt = Opt.Double("--lr", "the optimizer's learning rate (the paper's: 0.001)", 1e-3, 1e-7, 10, "LR");
    private static readonly Option<double> MomentumOpt = Opt.Double("--momentum", "SGD momentum (only with --optimizer sgd)", 0, 0, 0.999, "M");
    private static readonly Option<string> NewInitOpt = Opt.Choice("--new-init",
        "random/frobenius new neurons: pytorch (U(±1/√fan_in), the default), normal (incoming weights and bias N(0, σ²), σ = --new-init-std) or normal-all (outgoing weights too)",
        "pytorch", ["pytorch", "normal", "normal-all"]);
    private static readonly Option<double> NewInitStdOpt = Opt.Double("--new-init-std", "σ of --new-init normal and normal-all", 1, 1e-6, 1000, "SIGMA");
    private static readonly Option<int?> PretrainEpochsOpt = Opt.IntOrNull("--pretrain-epochs",
        "pre-train a fixed number of epochs without early stopping (default: early stopping on validation loss)", 1, 10_000);

    /// <summary>The <c>experiment</c> command and its subcommands.</summary>
    public static Command Create()
    {
        var sweInactive = new Command("swe-inactive", "paper 000 Table 1: % of new neurons inactive after doubling a one-hidden-layer net and 5 epochs")
        {
            DatasetOrBoth, SharedOptions.Scale, SharedOptions.Seeds, SharedOptions.Extenders, ProtocolOpt, InputScalingOpt, OptimizerOpt, LrOpt, MomentumOpt, WeightDecay,
            NewInitOpt, NewInitStdOpt, PretrainEpochsOpt, SharedOptions.DataDir, SharedOptions.Out, SharedOptions.Json, SharedOptions.Threads,
        };
        sweInactive.SetAction(SweInactive);
        var sweDeep = new Command("swe-deep", "grow a 3-hidden-layer MLP with SVoD: inactive new neurons, accuracy at insertion, cosine, final accuracy per extender")
        {
            SharedOptions.Dataset, SharedOptions.Scale, SharedOptions.Seeds, SharedOptions.Extenders, WeightDecay, OptimizerOnGrowth,
            SharedOptions.DataDir, SharedOptions.Out, SharedOptions.Json, SharedOptions.Threads,
        };
        sweDeep.SetAction(SweDeep);
        var recon = new Command("swe-reconstruction",
            "paper 000 Table 2 / Figure 2: grow a one-hidden-layer autoencoder 16 → 7 × +30% (early stopping per stage) with each method, " +
            "beside a static baseline of the final width; test loss ×1e-4 mean ± std, per-stage curves. " + SweGrowthTimes.Reconstruction)
        {
            GrowthDataset, SharedOptions.Scale, SharedOptions.Seeds, Methods, InputScalingOpt, OutputActivationOpt, ValidationOpt, PatienceOpt, LastPatienceOpt,
            MaxEpochsOpt, BudgetOpt, SharedOptions.TrainSamples, WeightDecay, OptimizerOpt, SharedOptions.DataDir, SharedOptions.Out, SharedOptions.Json, SharedOptions.Threads,
        };
        recon.SetAction(a => SweGrowth(a, GrowthTask.Reconstruction));
        var classification = new Command("swe-classification",
            "paper 000 Table 3 / Figure 3: grow classifiers (one hidden layer 16; three hidden layers 10 each with RAS / SVoD) 7 × +30%, " +
            "beside a static baseline; test accuracy mean ± std, per-stage curves, allocation per stage; CIFAR with the paper's conv backbone. " + SweGrowthTimes.Classification)
        {
            GrowthDataset, SharedOptions.Scale, SharedOptions.Seeds, Methods, LayersOpt, InputScalingOpt, ValidationOpt, PatienceOpt, LastPatienceOpt,
            MaxEpochsOpt, BudgetOpt, SharedOptions.TrainSamples, WeightDecay, OptimizerOpt, SharedOptions.DataDir, SharedOptions.Out, SharedOptions.Json, SharedOptions.Threads,
        };
        classification.SetAction(a => SweGrowth(a, GrowthTask.Classification));
        var similarity = new Command("similarity-growth",
            "paper 002 (Sakai & Hotta) Tables 1–3 / Figures 4–6: grow VGG16 (width 16) and MobileNetV1 (width 32) by +35% per step with random, ssd and firefly, " +
            "each plain and with the similarity regulariser (N steps after each growth, λ; --ablation: each term alone), SGD momentum 0.9 with cosine decay, " +
            "batch 128 (32 quick), crop + flip; accuracy, wall time and the chosen N beside the paper's tables, layer 2's cosine histogram, mean |cos| per layer over training and Grad-CAM grids of plain against regularised. " +
            SimilarityGrowthTimes.Text)
        {
            SimDataset, SharedOptions.Scale, SimSeeds, SimModels, SimMethods, SimN, SimLambda, SimAblation, SimSumPenalty, SimStages, SimEpochs, SimWidth, SimMobileNetWidth, SimPercent, SimPad,
            SimLr, SimMomentum, WeightDecay, SimBatch, SimNoAugment, SharedOptions.TrainSamples, SimTestSamples,
            SharedOptions.DataDir, SharedOptions.Out, SharedOptions.Json, SharedOptions.Threads,
        };
        similarity.SetAction(SimilarityGrowth);
        var grow = RunCommand.CreateGrow();   // the same command as "sprout grow"
        return new Command("experiment", "the papers' experiments") { sweInactive, sweDeep, recon, classification, similarity, StudyCommands.CreateWibRelu(), StudyCommands.CreateFcnTranslation(), grow };
    }

    // --- similarity-growth (paper 002) ---

    private static readonly Option<string?> SimDataset = Opt.Text("--dataset", "D",
        "the data set: fashion-mnist or mnist (padded to 32×32, 1 channel), cifar10, cifar100, or cifar (both); default: fashion-mnist at quick scale, cifar (both) at paper scale");
    private static readonly Option<int?> SimSeeds = Opt.IntOrNull("--seeds", "how many seeds to repeat over (default: 1 at quick scale, 3 at paper scale)", 1, 100);
    private static readonly Option<string[]?> SimModels = Opt.List("--models", "M1,M2",
        "the networks, comma-separated: vgg16, mobilenetv1 (default: both)",
        s => SimilarityGrowthOptions.ModelNames.Contains(s) ? (s, null) : ((string?)null, $"unknown model '{s}' (known: {Opt.Alternatives(SimilarityGrowthOptions.ModelNames)})"));
    private static readonly Option<string[]?> SimMethods = Opt.List("--methods", "M1,M2,…",
        "the growth methods, comma-separated: random, ssd, ssd-fast (SSD with the fast eigen-solver), firefly (default: random, ssd-fast, firefly at quick scale; random, ssd, firefly at paper scale)",
        s => SimilarityGrowthOptions.MethodNames.Contains(s) ? (s, null) : ((string?)null, $"unknown method '{s}' (known: {Opt.Alternatives(SimilarityGrowthOptions.MethodNames)})"));
    private static readonly Option<int[]?> SimN = Opt.List("--n", "N1,N2,…",
        "the regulariser's iterations after each growth step, comma-separated for a sweep (default: 5,20 at quick scale; each method's N_best from the paper, 20/10/15, at paper scale)",
        s => Opt.IntItem(s, 1, 1_000_000));
    private static readonly Option<double[]?> SimLambda = Opt.List<double>("--lambda", "L1,L2,…",
        $"λ of the weight-sum term, comma-separated for a sweep (default: {SimilarityGrowthOptions.DefaultLambda.ToString(CultureInfo.InvariantCulture)}; the paper gives none)",
        s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) && Math.Abs(v) <= 1000
            ? (v, null) : (0, $"'{s}' is not a number in [-1000, 1000]"));
    private static readonly Option<bool> SimAblation = Opt.Flag("--ablation", "also run each regulariser term alone (Table 3), at the first N and λ (default: on; --ablation false leaves those arms out)");
    private static readonly Option<string> SimSumPenalty = Opt.Choice("--sum-penalty",
        "how the regulariser's weight-sum term penalises r = |ΣW/ΣW_prev|: log, the paper's λ·log r (it always pushes |ΣW| down), or squared-log, λ·(log r)² (two-sided)",
        "log", ["log", "squared-log"]);
    private static readonly Option<int?> SimStages = Opt.IntOrNull("--stages", "growth steps (default: 2 quick, 4 paper)", 0, 100);
    private static readonly Option<int?> SimEpochs = Opt.IntOrNull("--epochs-per-stage", "epochs of the initial training and after every growth step (default: 2 quick, 50 paper)", 1, 100_000);
    private static readonly Option<int?> SimWidth = Opt.IntOrNull("--width", "start width of every VGG16 layer (default: 16, the paper's)", 1, 4096, "W");
    private static readonly Option<int?> SimMobileNetWidth = Opt.IntOrNull("--mobilenet-width", "start width of every MobileNetV1 layer (default: 32, Firefly's growing variant; the paper: \"16 and 32\")", 1, 4096, "W");
    private static readonly Option<double?> SimPercent = new("--percent")
    {
        Description = "growth per step in % of the current total width (default: 35, the paper's)", HelpName = "P",
        Validators = { r => { if (r.GetValueOrDefault<double?>() is { } v && !(v > 0 && v <= 1000)) r.AddError($"--percent must be in (0, 1000], got {v}"); } },
    };
    private static readonly Option<int?> SimPad = Opt.IntOrNull("--pad", "black pixels added on every side of the images (default: 2 for the 28×28 sets, 0 for CIFAR)", 0, 64, "PX");
    private static readonly Option<double?> SimLr = new("--lr")
    {
        Description = "SGD learning rate at the start of the cosine decay (default: 0.05 quick, 0.1 paper — Firefly's; the paper gives none)", HelpName = "LR",
        Validators = { r => { if (r.GetValueOrDefault<double?>() is { } v && !(v > 0 && v <= 10)) r.AddError($"--lr must be in (0, 10], got {v}"); } },
    };
    private static readonly Option<double?> SimMomentum = new("--momentum")
    {
        Description = "SGD momentum (default: 0.9, the paper's)", HelpName = "M",
        Validators = { r => { if (r.GetValueOrDefault<double?>() is { } v && !(v >= 0 && v < 1)) r.AddError($"--momentum must be in [0, 1), got {v}"); } },
    };
    private static readonly Option<int?> SimBatch = Opt.IntOrNull("--batch", "batch size (default: 32 at quick scale, for enough SGD steps on its small subset; 128, the paper's, at paper scale)", 1, 1_000_000, "B");
    private static readonly Option<bool> SimNoAugment = Opt.Flag("--no-augment", "train without random crop and flip");
    private static readonly Option<int?> SimTestSamples = Opt.IntOrNull("--test-samples", "evaluate on the first N test samples (default: 1000 quick, all at paper scale; 0: all)", 0, 10_000_000);

    private static int SimilarityGrowth(ParseResult a)
    {
        string scale = a.GetValue(SharedOptions.Scale)!;
        string? dsOpt = a.GetValue(SimDataset);
        string[] datasets = (dsOpt ?? (scale == "quick" ? "fashion-mnist" : "cifar")) switch
        {
            "cifar" => ["cifar10", "cifar100"],
            "fmnist" => ["fashion-mnist"],
            var d => [d],
        };
        int seeds = a.GetValue(SimSeeds) ?? (scale == "quick" ? 1 : 3);
        var o = scale == "quick" ? SimilarityGrowthOptions.Quick(datasets, seeds) : SimilarityGrowthOptions.Paper(datasets, seeds);
        if (a.Given(SimModels) is { } models) o = o with { Models = models.Distinct().ToArray() };
        if (a.Given(SimMethods) is { } methods) o = o with { Methods = methods.Distinct().ToArray() };
        if (a.Given(SimN) is { } n) o = o with { Iterations = n.Distinct().ToArray() };
        if (a.Given(SimLambda) is { } l) o = o with { Lambdas = l.Distinct().ToArray() };
        if (a.GetResult(SimAblation) is { Implicit: false }) o = o with { Ablation = a.GetValue(SimAblation) };
        if (a.GetValue(SimSumPenalty) == "squared-log") o = o with { SumPenalty = SumPenalty.SquaredLog };
        if (a.GetValue(SimStages) is { } st) o = o with { Stages = st };
        if (a.GetValue(SimEpochs) is { } ep) o = o with { EpochsPerStage = ep };
        if (a.GetValue(SimWidth) is { } w) o = o with { Width = w };
        if (a.GetValue(SimMobileNetWidth) is { } mw) o = o with { MobileNetWidth = mw };
        if (a.GetValue(SimPercent) is { } pc) o = o with { Percent = pc };
        if (a.GetValue(SimPad) is { } pad) o = o with { Pad = pad };
        if (a.GetValue(SimLr) is { } lr) o = o with { LearningRate = lr };
        if (a.GetValue(SimMomentum) is { } mom) o = o with { Momentum = mom };
        if (a.GetResult(WeightDecay) is { Implicit: false }) o = o with { WeightDecay = a.GetValue(WeightDecay) };
        if (a.GetValue(SimBatch) is { } b) o = o with { BatchSize = b };
        if (a.GetValue(SimNoAugment)) o = o with { Augment = false };
        if (a.GetResult(SharedOptions.TrainSamples) is { Implicit: false }) o = o with { TrainSamples = a.GetValue(SharedOptions.TrainSamples) };
        if (a.GetValue(SimTestSamples) is { } ts) o = o with { TestSamples = ts };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        bool json = a.GetValue(SharedOptions.Json);
        string outDir = a.GetValue(SharedOptions.Out) ?? Path.Combine("runs", RunFiles.TimestampedName("similarity-growth", DateTime.UtcNow));
        SharedOptions.ApplyThreads(a);
        string dataDir = DataDirectory.Resolve(a.GetValue(SharedOptions.DataDir));
        foreach (var ds in o.Datasets) RequirePresent(ds, dataDir);   // fail fast, before any training
        Directory.CreateDirectory(outDir);
        var progress = json ? Console.Error : Console.Out;
        foreach (var (c, v) in o.Choices()) progress.WriteLine($"{c}: {v}");
        progress.WriteLine($"run folders in {outDir}/<data set>/<model>/<arm>/seed-<n> (a run group per arm)");
        var started = DateTime.UtcNow;
        IReadOnlyList<SimilarityGrowthRuns> runs = [];
        int code = WithStop(outDir, "similarity-growth", stop => runs = SimilarityGrowthExperiment.Run(o,
            (ds, pad) => RunData.Load(ds, dataDir, null, InputScaling.Standardize, pad), outDir, line => progress.WriteLine(line), stop));
        if (code != 0) return Math.Max(code, 0);   // SharedRuns.OtherRankDone: rank 0 reports
        double minutes = (DateTime.UtcNow - started).TotalMinutes;
        string md = SimilarityGrowthReport.Write(o, runs, outDir, minutes);
        Console.WriteLine(json ? File.ReadAllText(Path.Combine(outDir, "results.json")) : md);
        progress.WriteLine($"results in {outDir} (results.md, results.json, charts/), {minutes:F1} min");
        return 0;
    }

    // Throws a one-line error naming the folder when a data set is not there yet.
    internal static void RequirePresent(string name, string dataDir)
    {
        var spec = DataCatalog.Get(name);
        if (!DataCatalog.IsPresent(spec, dataDir))
            throw new DataFormatException(DataCatalog.FolderOf(spec, dataDir), $"{name} is not in the data folder (run 'sprout data fetch {name}' or pass --data-dir)");
    }

    private static string[] Datasets(string s) => s == "both" ? ["mnist", "fashion-mnist"] : [s];

    // --- swe-reconstruction and swe-classification ---

    private static readonly Option<string> GrowthDataset = Opt.Choice("--dataset", "the data set(s) to run on (both: mnist and fashion-mnist)", "mnist",
        ["mnist", "fashion-mnist", "cifar10", "cifar100", "both"], new Dictionary<string, string> { ["fmnist"] = "fashion-mnist" });

    private static readonly Option<string[]?> Methods = Opt.List("--methods", "M1,M2,…",
        "the methods to compare, comma-separated: baseline (the final width from scratch), <extender>+<distributor> (presets), or an extender " +
        "alone (with RAS for one hidden layer, SVoD for three; firefly pairs with its own distributor); default: the paper's methods and ours",
        s => MethodError(s) is { } e ? ((string?)null, e) : (s, null));

    private static string? MethodError(string s)
    {
        if (s == SweMethod.BaselineName) return null;
        int plus = s.IndexOf('+', StringComparison.Ordinal);
        string ext = plus < 0 ? s : s[..plus], dist = plus < 0 ? "" : s[(plus + 1)..];
        // firefly is listed even before it is registered: the experiment reports it "not available" then
        bool extOk = ext == "firefly" || GrowthMethods.ExtenderPresets.Contains(ext);
        bool distOk = plus < 0 || dist == "firefly" || GrowthMethods.DistributorPresets.Contains(dist);
        if (extOk && distOk) return null;
        return !extOk
            ? $"unknown method '{s}': extender '{ext}' is not a preset (known: {string.Join(", ", GrowthMethods.ExtenderPresets)}, or baseline)"
            : $"unknown method '{s}': distributor '{dist}' is not a preset (known: {string.Join(", ", GrowthMethods.DistributorPresets)})";
    }

    private static readonly Option<string> LayersOpt = Opt.Choice("--layers", "which networks: one (Table 3a), three (Table 3b) or both", "both", ["one", "three", "both"]);
    private static readonly Option<InputScaling?> InputScalingOpt = Opt.Enum<InputScaling>("--input-scaling",
        "how pixels become inputs (default: unit, pixel/255, for reconstruction; standardize, per-channel mean/std, for classification)");
    private static readonly Option<OutputActivation?> OutputActivationOpt = Opt.Enum<OutputActivation>("--output-activation",
        "the autoencoder's output activation (default: sigmoid)");
    private static readonly Option<double> ValidationOpt = Opt.Double("--validation", "share of the training samples held out for early stopping (stratified)", 0.2, 0.01, 0.9);
    private static readonly Option<int?> PatienceOpt = Opt.IntOrNull("--patience", "early-stopping patience of every phase (default: 3 quick, 20 paper)", 1, 10_000);
    private static readonly Option<int?> LastPatienceOpt = Opt.IntOrNull("--last-patience", "early-stopping patience of the last stage (default: 30 at paper scale, the authors' script; otherwise --patience)", 1, 10_000);
    private static readonly Option<int?> MaxEpochsOpt = Opt.IntOrNull("--max-epochs", "most epochs of every phase (default: 15 quick, 250 paper)", 1, 100_000);
    private static readonly Option<BaselineBudget?> BudgetOpt = Opt.Enum<BaselineBudget>("--baseline-budget",
        "the static baseline's budget: total (default: the same early stopping with the grown run's whole epoch cap, (stages+1) × max epochs) or stage (one stage's cap)");

    private static int SweGrowth(ParseResult a, GrowthTask task)
    {
        var datasets = Datasets(a.GetValue(GrowthDataset)!);
        var (scale, seeds) = ScaleAndSeeds(a);
        var opts = scale == "quick" ? SweGrowthOptions.Quick(task, datasets, seeds) : SweGrowthOptions.Paper(task, datasets, seeds);
        if (task == GrowthTask.Classification)
        {
            string layers = a.GetValue(LayersOpt)!;
            opts = opts with { Parts = opts.Parts.Where(p => layers == "both" || (layers == "one") == (p.HiddenLayers == 1)).ToArray() };
        }
        if (a.Given(Methods) is { } methods) opts = opts with { Parts = opts.Parts.Select(p => p with { Methods = methods }).ToArray() };
        if (a.GetValue(InputScalingOpt) is { } sc) opts = opts with { Scaling = sc };
        if (a.GetValue(OutputActivationOpt) is { } act) opts = opts with { Output = act };
        if (a.GetValue(PatienceOpt) is { } pat) opts = opts with { Patience = pat };
        if (a.GetValue(LastPatienceOpt) is { } lpat) opts = opts with { LastPatience = lpat };
        if (a.GetValue(MaxEpochsOpt) is { } max) opts = opts with { MaxEpochs = max };
        if (a.GetValue(BudgetOpt) is { } budget) opts = opts with { Budget = budget };
        // --train-samples when given; otherwise the scale's (12,000 quick, all at paper scale)
        if (a.GetResult(SharedOptions.TrainSamples) is { Implicit: false }) opts = opts with { TrainSamples = a.GetValue(SharedOptions.TrainSamples) };
        opts = opts with { ValidationFraction = a.GetValue(ValidationOpt), WeightDecay = a.GetValue(WeightDecay) };
        if (a.GetValue(OptimizerOpt) is { } optimizer) opts = opts with { Optimizer = optimizer };
        try { opts.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        string name = task == GrowthTask.Reconstruction ? "swe-reconstruction" : "swe-classification";
        bool json = a.GetValue(SharedOptions.Json);
        string outDir = a.GetValue(SharedOptions.Out) ?? Path.Combine("runs", Runs.RunFiles.TimestampedName(name, DateTime.UtcNow));
        SharedOptions.ApplyThreads(a);
        string dataDir = DataDirectory.Resolve(a.GetValue(SharedOptions.DataDir));
        foreach (var ds in datasets) RequirePresent(ds, dataDir);   // fail fast, before any training
        Directory.CreateDirectory(outDir);
        var progress = json ? Console.Error : Console.Out;
        foreach (var (c, v) in opts.Choices()) progress.WriteLine($"{c}: {v}");
        progress.WriteLine($"run folders in {outDir}/<data set>/<network>/<method>/seed-<n> (a run group per method)");
        var started = DateTime.UtcNow;
        IReadOnlyList<SweGrowthRuns> runs = [];
        int code = WithStop(outDir, name, stop => runs = SweGrowthExperiment.Run(opts,
            (ds, scaling) => Runs.RunData.Load(ds, dataDir, null, scaling), outDir, line => progress.WriteLine(line), stop));
        if (code != 0) return Math.Max(code, 0);   // SharedRuns.OtherRankDone: rank 0 reports
        double minutes = (DateTime.UtcNow - started).TotalMinutes;
        string md = SweGrowthReport.Write(opts, runs, outDir, "experiment " + name, minutes);
        Console.WriteLine(json ? File.ReadAllText(Path.Combine(outDir, "results.json")) : md);
        progress.WriteLine($"results in {outDir} (results.md, results.json, charts/), {minutes:F1} min");
        return 0;
    }

    private static int SweInactive(ParseResult a)
    {
        var datasets = Datasets(a.GetValue(DatasetOrBoth)!);
        var (scale, seeds) = ScaleAndSeeds(a);
        var opts = scale == "quick" ? SweInactiveOptions.Quick(datasets, seeds) : SweInactiveOptions.Paper(datasets, seeds);
        if (a.Given(SharedOptions.Extenders) is { } list) opts = opts with { Extenders = list };
        opts = opts.WithProtocol(a.GetValue(ProtocolOpt)!);
        if (a.GetValue(InputScalingOpt) is { } sc) opts = opts with { Scaling = sc };
        if (a.GetValue(OptimizerOpt) is { } optimizer) opts = opts with { Optimizer = optimizer };
        if (a.GetResult(LrOpt) is { Implicit: false }) opts = opts with { LearningRate = a.GetValue(LrOpt) };
        if (a.GetResult(MomentumOpt) is { Implicit: false }) opts = opts with { Momentum = a.GetValue(MomentumOpt) };
        opts = opts with { WeightDecay = a.GetValue(WeightDecay) };
        if (opts.Momentum > 0 && opts.Optimizer != TrainingOptimizer.Sgd) throw new UsageException("--momentum is an SGD setting: add --optimizer sgd");
        if (a.GetValue(NewInitOpt) is "normal" or "normal-all") opts = opts with { NewInitStd = a.GetValue(NewInitStdOpt), NewInitOutgoing = a.GetValue(NewInitOpt) == "normal-all" };
        else if (a.GetResult(NewInitStdOpt) is { Implicit: false }) throw new UsageException("--new-init-std needs --new-init normal or normal-all");
        if (a.GetValue(PretrainEpochsOpt) is { } pe) opts = opts with { Pretrain = new StageTraining(pe) };
        var scaling = opts.Scaling;
        string? dataDirOpt = a.GetValue(SharedOptions.DataDir);
        bool json = a.GetValue(SharedOptions.Json);
        string outDir = a.GetValue(SharedOptions.Out) ?? Path.Combine("runs", Runs.RunFiles.TimestampedName("swe-inactive", DateTime.UtcNow));
        SharedOptions.ApplyThreads(a);

        string dataDir = DataDirectory.Resolve(dataDirOpt);
        foreach (var ds in datasets) RequirePresent(ds, dataDir);   // fail fast, before any training
        Directory.CreateDirectory(outDir);
        var progress = json ? Console.Error : Console.Out;
        progress.WriteLine(opts.Describe());
        progress.WriteLine($"run folders in {outDir}/<data set>/w<width>/<extender>/seed-<n> (a run group per data set, width and extender)");
        var rows = new List<SweInactiveRow>();
        var started = DateTime.UtcNow;
        int code = WithStop(outDir, "swe-inactive", stop =>
        {
            foreach (var ds in datasets)
            {
                var one = opts with { Datasets = [ds] };
                rows.AddRange(SweInactiveExperiment.Run(one, name => Sprout.Runs.RunData.Load(name, dataDir, scaling: scaling), outDir, line => progress.WriteLine(line), stop));
                if (!ExperimentRuns.IsSharing)   // shared over ranks: rank 0 writes the results once every run is done
                    WriteResults(outDir, opts with { Datasets = datasets.TakeWhile(d => d != ds).Append(ds).ToArray() }, rows, started);
            }
        });
        if (code != 0) return Math.Max(code, 0);   // SharedRuns.OtherRankDone: rank 0 reports
        string md = SweInactiveExperiment.Markdown(opts, rows);
        if (json) Console.WriteLine(File.ReadAllText(Path.Combine(outDir, "results.json")));
        else Console.WriteLine(md);
        progress.WriteLine($"results in {outDir} (results.md, results.json), {(DateTime.UtcNow - started).TotalMinutes:F1} min; " +
                           $"charts: sprout report {SweInactiveExperiment.GroupFolder(outDir, datasets[0], opts.Widths[0], opts.Extenders[0])}");
        return 0;
    }

    /// <summary>
    /// Runs an experiment's body with Ctrl+C turned into a stop at the next safe point of the running run (its checkpoint
    /// saved): one line, exit 130; rerunning the same command with the same --out continues where it stopped.
    /// </summary>
    internal static int WithStop(string outDir, string command, Action<StopSignal> body) =>
        SharedRuns.Run(() => WithStopHere(outDir, command, body));

    private static int WithStopHere(string outDir, string command, Action<StopSignal> body)
    {
        var stop = new StopSignal();
        int presses = 0;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // first Ctrl+C: stop at the next safe point and save; a second one: leave now (the last checkpoint stays)
            if (Interlocked.Increment(ref presses) > 1) return;
            e.Cancel = true;
            stop.Request();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            body(stop);
            return 0;
        }
        catch (TrainingInterruptedException e)
        {
            Console.Error.WriteLine($"sprout: interrupted: {e.Message}; " + (e.Saved ? "checkpoint saved" : "the last checkpoint stays") +
                                    $" — continue with: sprout {(command.StartsWith("sweep", StringComparison.Ordinal) ? command : "experiment " + command)} … --out {outDir} (the same options)");
            return RunFlow.Interrupted;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static void WriteResults(string outDir, SweInactiveOptions opts, List<SweInactiveRow> rows, DateTime started)
    {
        var summary = new List<object>();
        foreach (var ds in opts.Datasets)
            foreach (int w in opts.Widths)
                foreach (var e in opts.Extenders)
                {
                    var sel = rows.Where(r => r.Dataset == ds && r.Width == w && r.Extender == e).ToList();
                    if (sel.Count == 0) continue;
                    var (m, s) = SweInactiveExperiment.MeanStd(sel.Select(r => r.NewInactivePct));
                    int pi = SweInactiveExperiment.PaperWidths.ToList().IndexOf(w);
                    double? paper = e is "random" or "frobenius" or "swe" && pi >= 0 ? SweInactiveExperiment.PaperTable1[ds][e][pi] : null;
                    summary.Add(new { dataset = ds, width = w, grownTo = 2 * w, extender = e, newInactivePctMean = m, newInactivePctStd = s, seeds = sel.Count, paperTable1 = paper });
                }
        var doc = new
        {
            experiment = "swe-inactive",
            description = opts.Describe(),
            options = opts,
            startedUtc = started,
            minutes = (DateTime.UtcNow - started).TotalMinutes,
            summary,
            rows,
        };
        var jo = new JsonSerializerOptions(GrowthRunConfig.JsonOptions);
        Runs.RunSession.WriteAtomically(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(doc, jo));
        Runs.RunSession.WriteAtomically(Path.Combine(outDir, "results.md"), SweInactiveExperiment.Markdown(opts, rows));
    }

    // --scale quick|paper and --seeds (default 2 at quick scale, 5 at paper scale)
    private static (string Scale, int Seeds) ScaleAndSeeds(ParseResult a)
    {
        string scale = a.GetValue(SharedOptions.Scale)!;
        return (scale, a.GetValue(SharedOptions.Seeds) ?? (scale == "quick" ? 2 : 5));
    }

    private static int SweDeep(ParseResult a)
    {
        var datasets = Datasets(a.GetValue(SharedOptions.Dataset)!);
        var (scale, seeds) = ScaleAndSeeds(a);
        var opts = scale == "quick" ? SweDeepOptions.Quick(datasets[0], seeds) : SweDeepOptions.Paper(datasets[0], seeds);
        if (a.Given(SharedOptions.Extenders) is { } list) opts = opts with { Extenders = list };
        opts = opts with { WeightDecay = a.GetValue(WeightDecay) };
        if (a.GetValue(OptimizerOnGrowth) is { } pol) opts = opts with { OptimizerOnGrowth = pol };
        string? dataDirOpt = a.GetValue(SharedOptions.DataDir);
        bool json = a.GetValue(SharedOptions.Json);
        string outDir = a.GetValue(SharedOptions.Out) ?? Path.Combine("runs", Runs.RunFiles.TimestampedName("swe-deep", DateTime.UtcNow));
        SharedOptions.ApplyThreads(a);
        string dataDir = DataDirectory.Resolve(dataDirOpt);
        RequirePresent(datasets[0], dataDir);
        Directory.CreateDirectory(outDir);
        var progress = json ? Console.Error : Console.Out;
        progress.WriteLine(opts.Describe());
        progress.WriteLine($"run folders in {outDir}/<extender>/seed-<n> (a run group per extender)");
        var started = DateTime.UtcNow;
        var (full, test) = Sprout.Runs.RunData.Load(datasets[0], dataDir);
        Dictionary<string, List<GrowthRunReport>> runs = [];
        int code = WithStop(outDir, "swe-deep", stop => runs = SweDeepExperiment.Run(opts, full, test, outDir, line => progress.WriteLine(line), stop));
        if (code != 0) return Math.Max(code, 0);   // SharedRuns.OtherRankDone: rank 0 reports
        var summary = SweDeepExperiment.Summarise(runs);
        string md = SweDeepExperiment.Markdown(opts, summary);
        string text = JsonSerializer.Serialize(new { experiment = "swe-deep", description = opts.Describe(), options = opts, minutes = (DateTime.UtcNow - started).TotalMinutes, summary, runs },
            GrowthRunConfig.JsonOptions);
        Runs.RunSession.WriteAtomically(Path.Combine(outDir, "results.json"), text);
        Runs.RunSession.WriteAtomically(Path.Combine(outDir, "results.md"), md);
        Console.WriteLine(json ? text : md);
        progress.WriteLine($"results in {outDir} (results.md, results.json), {(DateTime.UtcNow - started).TotalMinutes:F1} min; " +
                           $"charts: sprout report {SweDeepExperiment.GroupFolder(outDir, opts.Extenders[0])}, " +
                           $"sprout compare {string.Join(" ", opts.Extenders.Take(3).Select(e => SweDeepExperiment.GroupFolder(outDir, e)))}");
        return 0;
    }
}

/// <summary>Measured wall times of the growth experiments on this project's 2-core machine, for their help.</summary>
internal static class SweGrowthTimes
{
    public const string Reconstruction = "Quick scale on MNIST: 2.2 min on 2 cores; paper scale (5 seeds, all samples, patience 20, " +
        "≤ 250 epochs per phase): an estimated 3.5–7 h per data set.";
    public const string Classification = "Quick scale on MNIST: 0.9 min on 2 cores; paper scale: an estimated 1–5 h per MNIST-sized data set, " +
        "and about 5 h per CIFAR-10 run (about 55 s per epoch of 40,000 images), i.e. days for a CIFAR table.";
}

/// <summary>Measured wall times of the similarity-growth experiment on this project's 2-core machine, for its help.</summary>
internal static class SimilarityGrowthTimes
{
    public const string Text = "Quick scale: about 10 min (30 runs) on this project's 2 cores; " +
        "paper scale: an estimated 4 h per VGG16 run and 9 h per MobileNetV1 run on one core here, 2–3 weeks for the default 144 runs (docs/growth.md).";
}
