using System.CommandLine;
using System.Globalization;
using Sprout.Growth;
using Sprout.Kernels;

namespace Sprout.Cli;

/// <summary>
/// The options several commands take, each declared once here and added to every command that takes it (a command's
/// own options are declared beside it, in its file). Read a value in a command's action with
/// <c>parseResult.GetValue(SharedOptions.Seed)</c>.
/// </summary>
internal static class SharedOptions
{
    /// <summary>The data sets a growth run trains on.</summary>
    public static readonly string[] ImageDatasets = ["mnist", "fashion-mnist"];

    private static readonly Dictionary<string, string> DatasetAliases = new(StringComparer.Ordinal) { ["fmnist"] = "fashion-mnist" };

    /// <summary><c>--dataset</c> for a run on one data set.</summary>
    public static readonly Option<string> Dataset = Opt.Choice("--dataset", "the data set to train on", "mnist", ImageDatasets, DatasetAliases);

    /// <summary><c>--dataset</c> of a run folder's run (<c>run</c>, <c>grow</c>, <c>train</c>): catalog or generated data sets.</summary>
    public static readonly Option<string> RunDataset = Opt.Choice("--dataset",
        "the data set to train on (the generated spirals and moons need no files)", "mnist", Runs.RunData.Names, DatasetAliases);

    /// <summary><c>--data-dir</c>: where data sets live.</summary>
    public static readonly Option<string?> DataDir = Opt.Text("--data-dir", "DIR",
        "the data folder (default: $SPROUT_DATA, else $XDG_CACHE_HOME/sprout/data or ~/.cache/sprout/data)");

    /// <summary><c>--seed</c>: the one seed that drives every random stream of a run.</summary>
    public static readonly Option<ulong> Seed = new("--seed")
    {
        Description = "the seed of every random stream: the same seed and --threads give bit-identical results",
        HelpName = "S",
        DefaultValueFactory = _ => 0,
        CustomParser = r =>
        {
            string s = Opt.Token(r);
            if (ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v)) return v;
            r.AddError($"{Opt.NameOf(r)} must be an integer from 0 to {ulong.MaxValue}, got '{s}'");
            return 0;
        },
    };

    /// <summary><c>--threads</c>: worker threads of a run, null for all cores; <see cref="ApplyThreads"/> sets it.</summary>
    public static readonly Option<int?> Threads = Opt.IntOrNull("--threads", "worker threads (default: all cores)", 1, 256, "T");

    /// <summary><c>--threads</c> of a benchmark: the thread counts to measure, e.g. <c>1,2</c>.</summary>
    public static readonly Option<int[]?> ThreadSweep = Opt.List("--threads", "T1,T2,…",
        "thread counts to measure, comma-separated (default: 1,2 on two or more cores, else 1)", s => Opt.IntItem(s, 1, 256));

    /// <summary><c>--json</c>: machine-readable results on stdout (progress goes to stderr).</summary>
    public static readonly Option<bool> Json = Opt.Flag("--json", "print the results as JSON on stdout (progress lines, if any, on stderr)");

    /// <summary><c>--no-progress</c>: plain lines instead of the live progress bar.</summary>
    public static readonly Option<bool> NoProgress = Opt.Flag("--no-progress",
        "plain lines instead of a live progress bar (also when output is redirected or TERM=dumb)");

    /// <summary><c>--data-parallel</c>: one run over every rank of an MPI job (docs/cluster.md).</summary>
    public static readonly Option<bool> DataParallel = Opt.Flag("--data-parallel",
        "under mpiexec -n N: train this one run over the N processes, each taking 1/N of every batch (--batch-size is the global batch); " +
        "the same result as one process up to the order of the gradient sums; without mpiexec: one process, as without the flag");

    /// <summary><c>--out</c>: the folder a command writes its results to.</summary>
    public static readonly Option<string?> Out = Opt.Text("--out", "DIR", "the folder to write results to (default: runs/<UTC time>-<name>)");

    /// <summary><c>--config</c>: a growth run's JSON config.</summary>
    public static readonly Option<string?> Config = Opt.Text("--config", "FILE.json", "a GrowthRunConfig JSON file describing the network and its growth");

    /// <summary><c>--save</c>: where to write the grown network's checkpoint.</summary>
    public static readonly Option<string?> Save = Opt.Text("--save", "FILE", "also write the final model alone to FILE (a model-only checkpoint; the run folder's checkpoints/ hold it anyway)");

    /// <summary><c>--train-samples</c>: use only this many training samples.</summary>
    public static readonly Option<int> TrainSamples = Opt.Int("--train-samples", "use a stratified subset of N training samples (0: all)", 0, 0, 10_000_000);

    /// <summary><c>--batch</c>: the batch size.</summary>
    public static readonly Option<int> Batch = Opt.Int("--batch", "batch size", 64, 1, 1_000_000);

    /// <summary><c>--extenders</c>: a list of extender names.</summary>
    public static readonly Option<string[]?> Extenders = Opt.List("--extenders", "E1,E2,…",
        $"the extenders to compare, comma-separated ({string.Join(", ", Extender.Names)})",
        s => Extender.Names.Contains(s) ? (s, (string?)null) : ((string?)null, $"unknown extender '{s}' (known: {string.Join(", ", Extender.Names)})"));

    /// <summary><c>--scale</c> of an experiment.</summary>
    public static readonly Option<string> Scale = Opt.Choice("--scale", "quick: minutes on a laptop; paper: the paper's full setting", "quick", ["quick", "paper"]);

    /// <summary><c>--seeds</c>: how many seeds an experiment repeats over.</summary>
    public static readonly Option<int?> Seeds = Opt.IntOrNull("--seeds", "how many seeds to repeat over (default: 2 at quick scale, 5 at paper scale)", 1, 100);

    /// <summary>Applies <see cref="Threads"/> to the worker pool and returns it.</summary>
    public static int ApplyThreads(ParseResult p)
    {
        int t = p.GetValue(Threads) ?? Environment.ProcessorCount;
        Workers.Threads = t;
        return t;
    }
}
