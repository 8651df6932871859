using System.Globalization;
using System.Text.Json;
using Sprout.Data;
using Sprout.Experiments;
using Sprout.Growth;

namespace Sprout.Cli;

/// <summary>
/// <c>sprout experiment …</c>: reproductions of paper experiments. Bad input is one line on stderr and a non-zero
/// exit (2 for usage errors, 1 for missing data or other failures).
/// </summary>
internal static class ExperimentCommands
{
    private const string Usage =
        "usage: sprout experiment swe-inactive [--dataset mnist|fashion-mnist|both] [--scale quick|paper] [--seeds N]\n" +
        "                                      [--extenders a,b,…] [--data-dir D] [--out DIR] [--json] [--threads T]\n" +
        "       sprout experiment swe-deep [--dataset mnist|fashion-mnist] [--scale quick|paper] [--seeds N] [--extenders a,b,…] [--weight-decay WD] [--optimizer-on-growth keep|warm|reset]\n" +
        "                                  [--data-dir D] [--out DIR] [--json] [--threads T]\n" +
        "       sprout experiment grow --config FILE.json [--dataset mnist|fashion-mnist] [--train-samples N] [--data-dir D] [--out DIR] [--json]\n" +
        "  swe-inactive  paper 000 Table 1: % of new neurons inactive after doubling a one-hidden-layer net and 5 epochs\n" +
        "  swe-deep      grow a 3-hidden-layer MLP with SVoD; inactive new neurons, accuracy at insertion, cosine, final accuracy per extender\n" +
        "  grow          one growth run (distribute → extend → train per stage) from a GrowthRunConfig JSON file";

    /// <summary>Runs an experiment; <paramref name="args"/> are the arguments after <c>sprout experiment</c>.</summary>
    public static int Run(string[] args)
    {
        // errors propagate to Cli.Run, which prints them as one line with the right exit code
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        return args[0] switch
        {
            "swe-inactive" => SweInactive(new Args(args[1..], new HashSet<string> { "json" })),
            "swe-deep" => SweDeep(new Args(args[1..], new HashSet<string> { "json" })),
            "grow" => Grow(new Args(args[1..], new HashSet<string> { "json" })),
            _ => throw new UsageException($"unknown experiment '{args[0]}' (known: swe-inactive, swe-deep, grow)"),
        };
    }

    // Throws a one-line error naming the folder when a data set is not there yet.
    private static void RequirePresent(string name, string dataDir)
    {
        var spec = DataCatalog.Get(name);
        if (!DataCatalog.IsPresent(spec, dataDir))
            throw new DataFormatException(DataCatalog.FolderOf(spec, dataDir), $"{name} is not in the data folder (run 'sprout data fetch {name}' or pass --data-dir)");
    }

    private static string[] Datasets(string? s) => (s ?? "both") switch
    {
        "both" => ["mnist", "fashion-mnist"],
        "mnist" => ["mnist"],
        "fashion-mnist" or "fmnist" => ["fashion-mnist"],
        _ => throw new UsageException($"--dataset must be mnist, fashion-mnist or both, got '{s}'"),
    };

    private static int SweInactive(Args a)
    {
        if (a.Positionals.Count > 0) throw new UsageException($"unexpected argument '{a.Positionals[0]}'");
        var datasets = Datasets(a.String("dataset"));
        var (scale, seeds) = ScaleAndSeeds(a);
        var opts = scale == "quick" ? SweInactiveOptions.Quick(datasets, seeds) : SweInactiveOptions.Paper(datasets, seeds);
        if (ParseExtenders(a) is { } list) opts = opts with { Extenders = list };
        string? dataDirOpt = a.String("data-dir");
        bool json = a.Flag("json");
        string outDir = a.String("out") ?? Path.Combine("runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-swe-inactive");
        Cli.ApplyThreads(a);
        a.RejectUnknown();

        string dataDir = DataDirectory.Resolve(dataDirOpt);
        foreach (var ds in datasets) RequirePresent(ds, dataDir);   // fail fast, before any training
        Directory.CreateDirectory(outDir);
        var progress = json ? Console.Error : Console.Out;
        progress.WriteLine(opts.Describe());
        var rows = new List<SweInactiveRow>();
        var started = DateTime.UtcNow;
        foreach (var ds in datasets)
        {
            var one = opts with { Datasets = [ds] };
            rows.AddRange(SweInactiveExperiment.Run(one, name => ImageFeatures.Load(name, dataDir), line => progress.WriteLine(line)));
            WriteResults(outDir, opts with { Datasets = datasets.TakeWhile(d => d != ds).Append(ds).ToArray() }, rows, started);
        }
        string md = SweInactiveExperiment.Markdown(opts, rows);
        if (json) Console.WriteLine(File.ReadAllText(Path.Combine(outDir, "results.json")));
        else Console.WriteLine(md);
        progress.WriteLine($"results in {outDir} (results.md, results.json), {(DateTime.UtcNow - started).TotalMinutes:F1} min");
        return 0;
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
        Cli.WriteAtomically(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(doc, jo));
        Cli.WriteAtomically(Path.Combine(outDir, "results.md"), SweInactiveExperiment.Markdown(opts, rows));
    }

    // --scale quick|paper and --seeds (default 2 at quick scale, 5 at paper scale)
    private static (string Scale, int Seeds) ScaleAndSeeds(Args a)
    {
        string scale = a.String("scale") ?? "quick";
        if (scale is not ("quick" or "paper")) throw new UsageException($"--scale must be quick or paper, got '{scale}'");
        return (scale, a.Int("seeds", scale == "quick" ? 2 : 5, 1, 100));
    }

    private static string[]? ParseExtenders(Args a)
    {
        var ext = a.String("extenders");
        if (ext is null) return null;
        var list = ext.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var e in list)
            if (!Extender.Names.Contains(e)) throw new UsageException($"unknown extender '{e}' (known: {string.Join(", ", Extender.Names)})");
        if (list.Length == 0) throw new UsageException("--extenders is empty");
        return list;
    }

    private static int SweDeep(Args a)
    {
        if (a.Positionals.Count > 0) throw new UsageException($"unexpected argument '{a.Positionals[0]}'");
        var datasets = Datasets(a.String("dataset") ?? "mnist");
        if (datasets.Length != 1) throw new UsageException("swe-deep runs on one data set");
        var (scale, seeds) = ScaleAndSeeds(a);
        var opts = scale == "quick" ? SweDeepOptions.Quick(datasets[0], seeds) : SweDeepOptions.Paper(datasets[0], seeds);
        if (ParseExtenders(a) is { } list) opts = opts with { Extenders = list };
        opts = opts with { WeightDecay = a.Double("weight-decay", 0, 0, 10) };
        if (a.String("optimizer-on-growth") is { } pol)
            opts = opts with { OptimizerOnGrowth = Enum.TryParse<Sprout.Optim.GrowthStatePolicy>(pol, true, out var p) && !int.TryParse(pol, out _) ? p
                : throw new UsageException($"--optimizer-on-growth must be keep, warm or reset, got '{pol}'") };
        string? dataDirOpt = a.String("data-dir");
        bool json = a.Flag("json");
        string outDir = a.String("out") ?? Path.Combine("runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-swe-deep");
        Cli.ApplyThreads(a);
        a.RejectUnknown();
        string dataDir = DataDirectory.Resolve(dataDirOpt);
        RequirePresent(datasets[0], dataDir);
        Directory.CreateDirectory(outDir);
        var progress = json ? Console.Error : Console.Out;
        progress.WriteLine(opts.Describe());
        var started = DateTime.UtcNow;
        var (full, test) = ImageFeatures.Load(datasets[0], dataDir);
        var runs = SweDeepExperiment.Run(opts, full, test, line => progress.WriteLine(line));
        var summary = SweDeepExperiment.Summarise(runs);
        string md = SweDeepExperiment.Markdown(opts, summary);
        string text = JsonSerializer.Serialize(new { experiment = "swe-deep", description = opts.Describe(), options = opts, minutes = (DateTime.UtcNow - started).TotalMinutes, summary, runs },
            GrowthRunConfig.JsonOptions);
        Cli.WriteAtomically(Path.Combine(outDir, "results.json"), text);
        Cli.WriteAtomically(Path.Combine(outDir, "results.md"), md);
        Console.WriteLine(json ? text : md);
        progress.WriteLine($"results in {outDir} (results.md, results.json), {(DateTime.UtcNow - started).TotalMinutes:F1} min");
        return 0;
    }

    private static int Grow(Args a)
    {
        if (a.Positionals.Count > 0) throw new UsageException($"unexpected argument '{a.Positionals[0]}'");
        string cfgPath = a.String("config") ?? throw new UsageException("grow needs --config FILE.json");
        var datasets = Datasets(a.String("dataset") ?? "mnist");
        if (datasets.Length != 1) throw new UsageException("grow runs on one data set");
        int samples = a.Int("train-samples", 0, 0, 10_000_000);
        string? dataDirOpt = a.String("data-dir");
        bool json = a.Flag("json");
        string outDir = a.String("out") ?? Path.Combine("runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-grow");
        string? save = a.String("save");
        int threads = Cli.ApplyThreads(a);
        a.RejectUnknown();
        if (!File.Exists(cfgPath)) throw new IOException($"config file {cfgPath} does not exist");
        var cfg = GrowthRunConfig.FromFile(cfgPath);
        cfg.Validate();
        return RunCommand.GrowAndReport(cfg, datasets[0], dataDirOpt, samples, outDir, json, $"the network of {cfgPath}", threads, save);
    }
}
