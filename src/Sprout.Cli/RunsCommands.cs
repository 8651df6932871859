using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Sprout.Data;
using Sprout.Nn;
using Sprout.Reporting;
using Sprout.Runs;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>
/// Commands on run folders: <c>resume</c> (continue a stopped or killed run), <c>eval</c> (a run's model or a
/// checkpoint on a data set's test split), <c>report</c> (report.md and report.html with charts) and <c>compare</c>
/// (several runs overlaid).
/// </summary>
internal static class RunsCommands
{
    private static readonly Argument<string> RunDir = new("run") { Description = "a run folder (runs/<time>-<name>)" };
    internal static readonly Argument<string> RunOrCheckpoint = new("run-or-checkpoint") { Description = "a run folder, or a .ckpt file" };
    private static readonly Argument<string> RunOrGroup = new("run") { Description = "a run folder, or a folder of runs (one per seed)" };
    private static readonly Argument<string[]> Runs = new("runs") { Description = "run folders or run groups to overlay (1–10)", Arity = new ArgumentArity(1, RunComparison.MaxRuns) };
    internal static readonly Option<bool> Best = Opt.Flag("--best", "evaluate the run's best checkpoint (lowest validation loss) instead of its last");

    /// <summary><c>sprout resume &lt;run&gt;</c>.</summary>
    public static Command CreateResume()
    {
        var c = new Command("resume", "continue a stopped or killed run from its last checkpoint, to the same final weights as an uninterrupted run")
        {
            RunDir, SharedOptions.DataDir, SharedOptions.Threads, SharedOptions.Json, SharedOptions.NoProgress, SharedOptions.Save,
        };
        c.SetAction(a =>
        {
            var session = RunSession.Open(a.GetValue(RunDir)!);
            // under mpiexec a resume is data-parallel over the job's ranks (rank 0 writes the folder)
            session.Communicator = Cluster.World;
            return RunFlow.Execute(session, resume: true, a.GetValue(SharedOptions.DataDir), a.GetValue(SharedOptions.Json),
                a.GetValue(SharedOptions.NoProgress), a.GetValue(SharedOptions.Save), a.GetValue(SharedOptions.Threads));
        });
        return c;
    }

    /// <summary><c>sprout eval &lt;run|checkpoint&gt;</c>.</summary>
    public static Command CreateEval()
    {
        var c = new Command("eval", "evaluate a run's model (or a checkpoint file alone) on the test split of its data set")
        {
            RunOrCheckpoint, Best, SharedOptions.RunDataset, SharedOptions.DataDir, SharedOptions.Threads, SharedOptions.Json,
        };
        c.SetAction(Eval);
        return c;
    }

    /// <summary>A run's (or a checkpoint's) model and the test split of its data set, prepared as the run prepared its data.</summary>
    internal sealed record LoadedModel(string Path, string Dataset, Module Module, InMemoryDataset Test, bool Reconstruction);

    /// <summary>
    /// Loads the model of <see cref="RunOrCheckpoint"/> (a run folder's last or, with --best, best checkpoint; or a
    /// checkpoint file with --dataset) and the test split of its data set with the run's input scaling and shape.
    /// </summary>
    internal static LoadedModel LoadModelAndTest(ParseResult a)
    {
        string target = a.GetValue(RunOrCheckpoint)!;
        string dataset;
        IReadOnlyList<int>? inputShape = null;
        var scaling = InputScaling.Standardize;
        bool reconstruction = false;
        int pad = 0;
        string path;
        if (Directory.Exists(target))
        {
            var session = RunSession.Open(target);
            dataset = session.Config.Dataset;
            inputShape = session.Config.Growth.InputShape;
            scaling = session.Config.InputScaling;   // the run's own data preparation and objective
            pad = session.Config.Pad;
            reconstruction = session.Config.Growth.Task == Sprout.Growth.GrowthTask.Reconstruction;
            path = a.GetValue(Best) ? RunFiles.BestCheckpoint(target) : RunFiles.LastCheckpoint(target);
            if (!File.Exists(path)) throw new IOException($"{target} has no {Path.GetFileName(path)} yet (the run saved no checkpoint)");
        }
        else
        {
            if (a.GetValue(Best)) throw new UsageException("--best needs a run folder, not a checkpoint file");
            dataset = a.GetValue(SharedOptions.RunDataset)!;
            path = target;
        }
        var ck = CheckpointFile.Load(path);
        var module = ck.BuildModule(ck.Metadata.ContainsKey("model/" + CheckpointFile.ArchitectureKey) ? "model/" : "");
        var (_, test) = RunData.Load(dataset, a.GetValue(SharedOptions.DataDir), null, scaling, pad);
        if (reconstruction) test = test.WithInputAsTarget();
        if (inputShape is null && module is Sequential { Layers: [Conv2d first, ..] } && DataCatalog.Find(dataset) is { } spec)
            inputShape = [first.Config.InChannels, spec.Height + 2 * pad, spec.Width + 2 * pad];
        if (inputShape is { Count: > 0 }) test = test.WithShape(inputShape.ToArray());
        try { module.ToConfig().OutputShape(test.SampleShape); }
        catch (ArgumentException e) { throw new ArgumentException($"{path}: its model does not take {dataset}'s samples ({e.Message})", e); }
        return new LoadedModel(path, dataset, module, test, reconstruction);
    }

    private static int Eval(ParseResult a)
    {
        SharedOptions.ApplyThreads(a);
        var (path, dataset, module, test, reconstruction) = LoadModelAndTest(a);
        var stats = new Trainer(module, optimizer: null, Loss.For(test)).Evaluate(test);
        if (a.GetValue(SharedOptions.Json))
            Console.WriteLine(JsonSerializer.Serialize(new { checkpoint = path, dataset, samples = stats.Samples, loss = stats.Loss, accuracy = reconstruction ? (double?)null : stats.Accuracy }));
        else
            Console.WriteLine(reconstruction
                ? string.Create(CultureInfo.InvariantCulture, $"{path} on {dataset} test ({stats.Samples} samples): reconstruction loss (MSE) {stats.Loss:F6}")
                : string.Create(CultureInfo.InvariantCulture, $"{path} on {dataset} test ({stats.Samples} samples): loss {stats.Loss:F4}, accuracy {stats.Accuracy:P2}"));
        return 0;
    }

    /// <summary><c>sprout report &lt;run&gt;</c>.</summary>
    public static Command CreateReport()
    {
        var c = new Command("report", "write report.md and a self-contained report.html with charts for a run (or a folder of runs, with mean ± std bands)")
        {
            RunOrGroup, SharedOptions.Out,
        };
        c.SetAction(a =>
        {
            var files = RunReport.Write(a.GetValue(RunOrGroup)!, a.GetValue(SharedOptions.Out));
            Console.WriteLine($"{files.Html}\n{files.Markdown}\n{files.Charts.Count} charts");
            return 0;
        });
        return c;
    }

    /// <summary><c>sprout compare &lt;run&gt;…</c>.</summary>
    public static Command CreateCompare()
    {
        var c = new Command("compare", "overlay several runs (or run groups) in compare.md and compare.html")
        {
            Runs, SharedOptions.Out,
        };
        c.SetAction(a =>
        {
            string outDir = a.GetValue(SharedOptions.Out)
                            ?? Path.Combine("runs", RunFiles.TimestampedName("compare", DateTime.UtcNow));
            var files = RunComparison.Write(a.GetValue(Runs)!, outDir);
            Console.WriteLine($"{files.Html}\n{files.Markdown}\n{files.Charts.Count} charts");
            return 0;
        });
        return c;
    }
}
