using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Sprout.Data;
using Sprout.Experiments;
using Sprout.Growth;
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
    private static readonly Option<double> WeightDecay = Opt.Double("--weight-decay", "AdamW weight decay (0: Adam)", 0, 0, 10, "WD");
    private static readonly Option<Sprout.Optim.GrowthStatePolicy?> OptimizerOnGrowth = Opt.Enum<Sprout.Optim.GrowthStatePolicy>(
        "--optimizer-on-growth", "what the optimizer's state does when a layer grows (default: the experiment's)");

    /// <summary>The <c>experiment</c> command and its subcommands.</summary>
    public static Command Create()
    {
        var sweInactive = new Command("swe-inactive", "paper 000 Table 1: % of new neurons inactive after doubling a one-hidden-layer net and 5 epochs")
        {
            DatasetOrBoth, SharedOptions.Scale, SharedOptions.Seeds, SharedOptions.Extenders, SharedOptions.DataDir, SharedOptions.Out,
            SharedOptions.Json, SharedOptions.Threads,
        };
        sweInactive.SetAction(SweInactive);
        var sweDeep = new Command("swe-deep", "grow a 3-hidden-layer MLP with SVoD: inactive new neurons, accuracy at insertion, cosine, final accuracy per extender")
        {
            SharedOptions.Dataset, SharedOptions.Scale, SharedOptions.Seeds, SharedOptions.Extenders, WeightDecay, OptimizerOnGrowth,
            SharedOptions.DataDir, SharedOptions.Out, SharedOptions.Json, SharedOptions.Threads,
        };
        sweDeep.SetAction(SweDeep);
        var grow = RunCommand.CreateGrow();   // the same command as "sprout grow"
        return new Command("experiment", "the papers' experiments") { sweInactive, sweDeep, grow };
    }

    // Throws a one-line error naming the folder when a data set is not there yet.
    private static void RequirePresent(string name, string dataDir)
    {
        var spec = DataCatalog.Get(name);
        if (!DataCatalog.IsPresent(spec, dataDir))
            throw new DataFormatException(DataCatalog.FolderOf(spec, dataDir), $"{name} is not in the data folder (run 'sprout data fetch {name}' or pass --data-dir)");
    }

    private static string[] Datasets(string s) => s == "both" ? ["mnist", "fashion-mnist"] : [s];

    private static int SweInactive(ParseResult a)
    {
        var datasets = Datasets(a.GetValue(DatasetOrBoth)!);
        var (scale, seeds) = ScaleAndSeeds(a);
        var opts = scale == "quick" ? SweInactiveOptions.Quick(datasets, seeds) : SweInactiveOptions.Paper(datasets, seeds);
        if (a.Given(SharedOptions.Extenders) is { } list) opts = opts with { Extenders = list };
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
                rows.AddRange(SweInactiveExperiment.Run(one, name => Sprout.Runs.RunData.Load(name, dataDir), outDir, line => progress.WriteLine(line), stop));
                WriteResults(outDir, opts with { Datasets = datasets.TakeWhile(d => d != ds).Append(ds).ToArray() }, rows, started);
            }
        });
        if (code != 0) return code;
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
    private static int WithStop(string outDir, string command, Action<StopSignal> body)
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
                                    $" — continue with: sprout experiment {command} … --out {outDir} (the same options)");
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
        if (code != 0) return code;
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
