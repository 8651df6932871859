using System.CommandLine;
using Sprout.Data;
using Sprout.Experiments;
using Sprout.Runs;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>
/// <c>sprout sweep &lt;spec.json&gt;</c>: a grid of run configs (<see cref="SweepSpec"/>), each point a run folder, the
/// results one table (sweep.md, sweep.json). Under <c>mpiexec -n N</c> the points go round the ranks
/// (<see cref="SharedRuns"/>); rerunning the same command skips finished points and resumes interrupted ones.
/// </summary>
internal static class SweepCommand
{
    private static readonly Argument<string> Spec = new("spec")
    {
        Description = "the sweep spec: {\"base\": {…a run config, e.g. a run folder's config.json…}, \"axes\": {\"growth.seed\": [0, 1], \"growth.learningRate\": [0.001, 0.01]}}",
    };

    /// <summary>The <c>sweep</c> command.</summary>
    public static Command Create()
    {
        var c = new Command("sweep",
            "run a grid of configs (a base run config and axes to vary), one run folder per point, and tabulate the results; under mpiexec -n N the points are shared out over the N processes")
        {
            Spec, SharedOptions.DataDir, SharedOptions.Out, SharedOptions.Threads, SharedOptions.Json,
        };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult a)
    {
        string specPath = a.GetValue(Spec)!;
        if (!File.Exists(specPath)) throw new IOException($"sweep spec {specPath} does not exist");
        var spec = SweepSpec.FromJson(Tensors.SafeFile.ReadAllText(specPath, 16 << 20, problem => new FormatException($"{specPath}: {problem}")));
        var points = spec.Points();
        // one thread per run by default under mpiexec (the ranks share the cores), all cores otherwise
        if (a.GetValue(SharedOptions.Threads) is null && Cluster.World is not null) Kernels.Workers.Threads = 1;
        else SharedOptions.ApplyThreads(a);
        int threads = Kernels.Workers.Threads;
        string dataDir = DataDirectory.Resolve(a.GetValue(SharedOptions.DataDir));
        foreach (var ds in points.Select(p => p.Config.Dataset).Distinct())
            if (!RunData.SyntheticNames.Contains(ds)) ExperimentCommands.RequirePresent(ds, dataDir);   // fail fast
        string outDir = a.GetValue(SharedOptions.Out) ?? Path.Combine("runs", RunFiles.TimestampedName("sweep", DateTime.UtcNow));
        Directory.CreateDirectory(outDir);
        bool json = a.GetValue(SharedOptions.Json);
        var progress = json ? Console.Error : Console.Out;
        progress.WriteLine($"sweep of {points.Count} point(s) over {string.Join(", ", spec.Axes.Select(x => $"{x.Path} ({x.Values.Count})"))}, " +
                           $"{threads} thread(s) per run" + (Cluster.World is { } w ? $", shared over {w.Size} processes" : "") + $"; run folders in {outDir}");
        var cache = new Dictionary<(string, InputScaling, int), (InMemoryDataset, InMemoryDataset)>();
        IReadOnlyList<SweepResult> results = [];
        int code = ExperimentCommands.WithStop(outDir, $"sweep {specPath}", stop => results = Sweep.Run(spec, outDir, threads, cfg =>
        {
            var key = (cfg.Dataset, cfg.InputScaling, cfg.Pad);
            if (!cache.TryGetValue(key, out var d)) cache[key] = d = RunData.Load(cfg.Dataset, dataDir, null, cfg.InputScaling, cfg.Pad);
            return d;
        }, line => progress.WriteLine(line), stop));
        if (code != 0) return Math.Max(code, 0);   // SharedRuns.OtherRankDone: rank 0 reports
        string md = Sweep.Write(spec, results, outDir);
        Console.WriteLine(json ? File.ReadAllText(Path.Combine(outDir, "sweep.json")) : md);
        progress.WriteLine($"results in {outDir} (sweep.md, sweep.json)");
        return 0;
    }
}
