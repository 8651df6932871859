using System.CommandLine;
using Sprout.Growth;
using Sprout.Runs;

namespace Sprout.Cli;

/// <summary>
/// <c>run</c> (the main job), <c>grow</c> and <c>train</c>: each makes a run folder (docs/runs.md) and runs it through
/// <see cref="RunFlow"/>. <c>run</c> and <c>grow</c> grow a network in stages (distribute → extend → train); <c>train</c>
/// trains one without growing it. Same seed and thread count → the same run.
/// </summary>
internal static class RunCommand
{
    private static readonly Option<string> ExtenderOption = Opt.Choice("--extender", "how new neurons get their weights", "swe-plus", Extender.Names);
    private static readonly Option<string> DistributorOption = Opt.Choice("--distributor", "where new neurons go", "svod", Distributor.Names);
    private static readonly Option<int> Stages = Opt.Int("--stages", "growth stages", 4, 1, 100);
    private static readonly Option<double> GrowPercent = Opt.Double("--grow-percent", "neurons added per stage, in % of the current hidden width", 50, 1, 1000, "P");
    private static readonly Option<int> Epochs = Opt.Int("--epochs", "epochs of initial training and of training after each stage", 2, 1, 1000);
    private static readonly Option<int> TrainEpochs = Opt.Int("--epochs", "training epochs (the most, with --patience)", 5, 1, 100_000);
    private static readonly Option<int?> Patience = Opt.IntOrNull("--patience",
        "early stopping: end when the validation loss has not improved for N epochs (best weights restored)", 1, 100_000);
    private static readonly Option<int[]?> Widths = Opt.List("--widths", "W0-W1-…", "MLP widths: input, hidden…, output (default 784-16-16-10, or 2-16-16-2 for spirals/moons)",
        s => Opt.IntItem(s, 1, GrowthRunConfig.MaxWidth), '-', ',');
    private static readonly Option<string?> Name = Opt.Text("--name", "NAME", "the run's name, the end of its folder name (default: the command)");

    /// <summary>The <c>run</c> command: the main job with its defaults.</summary>
    public static Command Create() => Grow("run", "fetch the data set if missing, grow an MLP 784-16-16-10 in stages with SVoD and swe-plus, and report (the main job)");

    /// <summary>The <c>grow</c> command: a growth run from options or a config file.</summary>
    public static Command CreateGrow() => Grow("grow", "grow a network in stages (distribute → extend → train), described by options or --config FILE.json");

    private static Command Grow(string name, string description)
    {
        var c = new Command(name, description)
        {
            SharedOptions.RunDataset, SharedOptions.DataDir, SharedOptions.Config, Widths, ExtenderOption, DistributorOption, Stages, GrowPercent,
            Epochs, SharedOptions.TrainSamples, SharedOptions.Seed, SharedOptions.Threads, SharedOptions.Json, SharedOptions.Out,
            SharedOptions.Save, SharedOptions.NoProgress, Name, SharedOptions.DataParallel,
        };
        c.SetAction(a =>
        {
            string dataset = a.GetValue(SharedOptions.RunDataset)!;
            int epochs = a.GetValue(Epochs);
            var cfg = a.GetValue(SharedOptions.Config) is { } path
                ? ReadConfig(path)
                : new GrowthRunConfig(DefaultWidths(a, dataset), GrowthSchedule.FromPercent(a.GetValue(GrowPercent), a.GetValue(Stages)),
                    GrowthMethods.Extender(a.GetValue(ExtenderOption)!), GrowthMethods.Distributor(a.GetValue(DistributorOption)!),
                    InitialTraining: new StageTraining(epochs), StageTraining: new StageTraining(epochs), Seed: a.GetValue(SharedOptions.Seed));
            return Start(a, name, dataset, cfg);
        });
        return c;
    }

    /// <summary>The <c>train</c> command: a network trained without growth (same run folder, metrics and checkpoints).</summary>
    public static Command CreateTrain()
    {
        var c = new Command("train", "train a network without growing it (an MLP from --widths, or --config FILE.json with no stages)")
        {
            SharedOptions.RunDataset, SharedOptions.DataDir, SharedOptions.Config, Widths, TrainEpochs, Patience, SharedOptions.TrainSamples,
            SharedOptions.Seed, SharedOptions.Threads, SharedOptions.Json, SharedOptions.Out, SharedOptions.Save, SharedOptions.NoProgress, Name,
            SharedOptions.DataParallel,
        };
        c.SetAction(a =>
        {
            string dataset = a.GetValue(SharedOptions.RunDataset)!;
            int epochs = a.GetValue(TrainEpochs);
            var training = a.GetValue(Patience) is { } p ? new StageTraining(epochs, true, p, epochs) : new StageTraining(epochs);
            var cfg = a.GetValue(SharedOptions.Config) is { } path
                ? ReadConfig(path) with { Schedule = GrowthSchedule.FromTotals() }
                : new GrowthRunConfig(DefaultWidths(a, dataset), GrowthSchedule.FromTotals(), InitialTraining: training, Seed: a.GetValue(SharedOptions.Seed));
            return Start(a, "train", dataset, cfg);
        });
        return c;
    }

    /// <summary>
    /// The MPI world a run/grow/train trains over: the job's with <c>--data-parallel</c> under mpiexec, else null (one
    /// process). Under mpiexec without the flag every rank would run the same run: a usage error.
    /// </summary>
    internal static Training.ICommunicator? DataParallelWorld(bool dataParallel, string command)
    {
        var world = Cluster.World;
        if (world is null) return null;
        if (!dataParallel)
            throw new UsageException($"'sprout {command}' is running as {world.Size} MPI processes: add --data-parallel to train this one run over all of them " +
                                     "(or share independent runs out with 'sprout sweep' or 'sprout experiment')");
        return world;
    }

    private static GrowthRunConfig ReadConfig(string path) =>
        Path.Exists(path) ? GrowthRunConfig.FromFile(path) : throw new IOException($"config file {path} does not exist");

    private static int[] DefaultWidths(ParseResult a, string dataset) =>
        a.Given(Widths) ?? (RunData.SyntheticNames.Contains(dataset) ? [2, 16, 16, 2] : [RunData.Features(dataset), 16, 16, 10]);

    /// <summary>Makes the run folder for <paramref name="cfg"/> and runs it (shared with <c>experiment grow</c>).</summary>
    internal static int Start(ParseResult a, string command, string dataset, GrowthRunConfig cfg)
    {
        int threads = SharedOptions.ApplyThreads(a);
        var world = DataParallelWorld(a.GetValue(SharedOptions.DataParallel), command);
        var run = new RunConfig(command, a.GetValue(Name) ?? command, dataset, cfg, a.GetValue(SharedOptions.TrainSamples), 0.1, threads,
            Ranks: world?.Size ?? 0);
        run.Validate();
        var session = RunSession.CreateShared(run, a.GetValue(SharedOptions.Out), world);
        return RunFlow.Execute(session, resume: false, a.GetValue(SharedOptions.DataDir), a.GetValue(SharedOptions.Json),
            a.GetValue(SharedOptions.NoProgress), a.GetValue(SharedOptions.Save));
    }
}
