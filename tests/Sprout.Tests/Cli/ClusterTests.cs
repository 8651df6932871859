using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sprout.Experiments;
using Sprout.Growth;
using Sprout.Runs;
using Sprout.Training;
using Sprout.Nn;
using Xunit;

namespace Sprout.Tests.Cli;

/// <summary>
/// MPI: the built CLI launched as <c>mpiexec -n 2 dotnet Sprout.Cli.dll …</c> against the same command in one process
/// (docs/cluster.md). Skipped, saying why, only where mpiexec is missing (.ci/run installs mpich).
/// </summary>
[Collection("Workers")]
public class ClusterTests
{
    private static readonly string? Mpiexec = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Select(d => Path.Combine(d, "mpiexec")).FirstOrDefault(File.Exists);

    private static string Cli => Path.Combine(AppContext.BaseDirectory, "Sprout.Cli.dll");

    private static void RequireMpi()
    {
        if (Mpiexec is null) Assert.Skip("mpiexec is not installed (apt-get install mpich; .ci/run does)");
    }

    // mpiexec -n ranks dotnet Sprout.Cli.dll args…; onStart sees the launcher's process (to kill a rank)
    private static (int Code, string Out, string Err) Launch(int ranks, string[] args, Action<Process>? whileRunning = null)
    {
        var psi = new ProcessStartInfo(Mpiexec!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-n", ranks.ToString(), "dotnet", Cli }.Concat(args)) psi.ArgumentList.Add(a);
        psi.Environment.Remove("SPROUT_DEBUG");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        whileRunning?.Invoke(p);
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("mpiexec did not finish in 3 minutes");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Temp(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "sprout-cluster-" + name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    // a growth config for the generated spirals: MLP 2-16-16-2 with the given batch, epochs and stages
    private static string GrowthConfig(string dir, int batch, int epochs, int stages, int seed = 0)
    {
        var schedule = stages == 0 ? GrowthSchedule.FromTotals() : GrowthSchedule.FromPercent(50, stages);
        var cfg = new GrowthRunConfig([2, 16, 16, 2], schedule, GrowthMethods.Extender("swe-plus"), GrowthMethods.Distributor("svod"),
            InitialTraining: new StageTraining(epochs), StageTraining: new StageTraining(epochs), BatchSize: batch, Seed: (ulong)seed);
        string path = Path.Combine(dir, $"growth-{batch}-{epochs}-{stages}.json");
        File.WriteAllText(path, cfg.ToJson());
        return path;
    }

    // a sweep over seeds × learning rates of a spirals training run
    private static string WriteSpec(string dir, int epochs, int hidden, int seeds)
    {
        var growth = new GrowthRunConfig([2, hidden, hidden, 2], GrowthSchedule.FromTotals(), InitialTraining: new StageTraining(epochs));
        var run = new RunConfig("train", "sw", "spirals", growth, 1000);
        var spec = new JsonObject
        {
            ["base"] = JsonNode.Parse(run.ToJson()),
            ["axes"] = new JsonObject
            {
                ["growth.seed"] = new JsonArray(Enumerable.Range(0, seeds).Select(s => (JsonNode?)JsonValue.Create(s)).ToArray()),
                ["growth.learningRate"] = new JsonArray(0.001, 0.01),
            },
        };
        string path = Path.Combine(dir, "spec.json");
        File.WriteAllText(path, spec.ToJsonString());
        return path;
    }

    private static Dictionary<string, float[]> Weights(string ckpt)
    {
        var f = CheckpointFile.Load(ckpt);
        return f.TensorNames.Where(n => n.StartsWith("model/", StringComparison.Ordinal)).ToDictionary(n => n, n => f.Get(n).Data);
    }

    // ‖a − b‖ / ‖b‖ over all weights of two checkpoints with the same tensors (0: bit for bit)
    private static double RelativeDifference(string a, string b)
    {
        var wa = Weights(a);
        var wb = Weights(b);
        Assert.Equal(wb.Keys.Order(), wa.Keys.Order());
        double diff = 0, norm = 0;
        foreach (var (name, x) in wa)
        {
            var y = wb[name];
            Assert.Equal(y.Length, x.Length);
            for (int i = 0; i < x.Length; i++)
            {
                diff += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
                norm += (double)y[i] * y[i];
            }
        }
        return Math.Sqrt(diff / norm);
    }

    private static string Last(string run) => RunFiles.LastCheckpoint(run);

    [Fact]
    public void TwoRankSweepGivesTheSerialResults()
    {
        RequireMpi();
        string dir = Temp("sweep");
        string spec = WriteSpec(dir, epochs: 2, hidden: 16, seeds: 2);
        var serial = CliHarness.Run("sweep", spec, "--out", Path.Combine(dir, "serial"), "--threads", "1");
        Assert.True(serial.Code == 0, serial.Err);
        var mpi = Launch(2, ["sweep", spec, "--out", Path.Combine(dir, "mpi")]);
        Assert.True(mpi.Code == 0, mpi.Out + mpi.Err);
        // rank 1 trained its share, rank 0 the rest and then wrote the one report
        Assert.Contains("[rank 1] this rank's share is done (2 of 4 runs)", mpi.Out);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "serial", "sweep.json")), File.ReadAllText(Path.Combine(dir, "mpi", "sweep.json")));
        foreach (var point in Directory.GetDirectories(Path.Combine(dir, "serial")).Select(Path.GetFileName))
            Assert.Equal(0, RelativeDifference(Last(Path.Combine(dir, "mpi", point!)), Last(Path.Combine(dir, "serial", point!))));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void TwoRanksOfBatch32EqualOneProcessOfBatch64()
    {
        RequireMpi();
        string dir = Temp("dp");
        string cfg = GrowthConfig(dir, batch: 64, epochs: 2, stages: 0);
        string one = Path.Combine(dir, "one"), two = Path.Combine(dir, "two");
        var single = CliHarness.Run("train", "--dataset", "spirals", "--config", cfg, "--threads", "1", "--train-samples", "2000", "--out", one, "--no-progress");
        Assert.True(single.Code == 0, single.Err);
        var mpi = Launch(2, ["train", "--dataset", "spirals", "--config", cfg, "--threads", "1", "--train-samples", "2000", "--out", two, "--no-progress", "--data-parallel"]);
        Assert.True(mpi.Code == 0, mpi.Out + mpi.Err);
        Assert.Contains("× 2 data-parallel processes", mpi.Out);
        Assert.DoesNotContain("[rank 1]", mpi.Out);   // rank 0 alone prints a data-parallel run's progress
        // the same global batches, gradients added in another order: equal within 1e-6 relative (measured: ~1e-7)
        double diff = RelativeDifference(Last(two), Last(one));
        TestContext.Current.SendDiagnosticMessage($"data-parallel vs one process: relative weight difference {diff:G3}");
        Assert.True(diff <= 1e-6, $"relative weight difference {diff:G3}");
        Assert.Contains("\"ranks\": 2", File.ReadAllText(Path.Combine(two, "config.json")));
        Directory.Delete(dir, true);
    }

    // a training config of the given network (no growth) with batch 64
    private static string NetworkConfig(string dir, string name, SequentialConfig model, int[] inputShape, int epochs)
    {
        var cfg = new GrowthRunConfig([], GrowthSchedule.FromTotals(), InitialTraining: new StageTraining(epochs), BatchSize: 64,
            Model: model, InputShape: inputShape);
        string path = Path.Combine(dir, name + ".json");
        File.WriteAllText(path, cfg.ToJson());
        return path;
    }

    // 1 process × batch 64 against 2 ranks × 32 of the same command: the relative weight difference of the last checkpoints
    private static double OneAgainstTwo(string dir, string cfg, params string[] data)
    {
        string one = Path.Combine(dir, "one"), two = Path.Combine(dir, "two");
        string[] Args(string outDir) => ["train", .. data, "--config", cfg, "--threads", "1", "--out", outDir, "--no-progress"];
        var single = CliHarness.Run(Args(one));
        Assert.True(single.Code == 0, single.Err);
        var mpi = Launch(2, [.. Args(two), "--data-parallel"]);
        Assert.True(mpi.Code == 0, mpi.Out + mpi.Err);
        Assert.Contains("× 2 data-parallel processes", mpi.Out);
        return RelativeDifference(Last(two), Last(one));
    }

    [Fact]
    public void TwoRanksOfBatch32EqualOneProcessOfBatch64WithBatchNormMlp()
    {
        // synchronised BatchNorm: each rank normalises its 32 rows with the 64 rows' statistics. No bias before a
        // BatchNorm (as in the CIFAR backbone): its true gradient is 0, and Adam would steer it by rounding noise alone
        // (with biases: 3·10⁻³ apart after these 58 steps, all of it in those biases)
        RequireMpi();
        string dir = Temp("dpbnmlp");
        var model = new SequentialConfig([
            new LinearConfig(2, 16, Bias: false), new BatchNormConfig(16), ActivationConfig.Relu,
            new LinearConfig(16, 16, Bias: false), new BatchNormConfig(16), ActivationConfig.Relu, new LinearConfig(16, 2)]);
        string cfg = NetworkConfig(dir, "bn-mlp", model, [2], epochs: 2);
        // 2 epochs of 29 steps (1800 training rows: 28 batches of 64 and one of 8)
        double diff = OneAgainstTwo(dir, cfg, "--dataset", "spirals", "--train-samples", "2000");
        TestContext.Current.SendDiagnosticMessage($"BatchNorm MLP, 2 ranks × 32 vs 1 × 64: relative weight difference {diff:G3}");
        Assert.True(diff <= 1e-6, $"relative weight difference {diff:G3}");
        Directory.Delete(dir, true);
    }

    [Fact]
    public void TwoRanksOfBatch32EqualOneProcessOfBatch64WithBatchNormConvNet()
    {
        // two 3×3 conv + BN + ReLU blocks on 8×8 maps (the generated 32×32 CIFAR images average-pooled by 4)
        RequireMpi();
        string dir = Temp("dpbnconv");
        // random pixels: the fixture's one shifted pattern leaves channels with almost no variance after pooling, where
        // Adam amplifies any rounding difference exponentially (measured: 6·10⁻⁷ after 9 steps, 9·10⁻⁵ after 18; random
        // images 1.7·10⁻⁸ and 2.7·10⁻⁸)
        using var data = Sprout.Tests.Data.Fixtures.RandomCifar10Folder(perBatch: 40, test: 20);
        var model = new SequentialConfig([
            new PoolConfig(PoolKind.Average, 4),
            new Conv2dConfig(3, 8, 3, 1, 1, Bias: false), new BatchNormConfig(8), ActivationConfig.Relu,
            new Conv2dConfig(8, 8, 3, 1, 1, Bias: false), new BatchNormConfig(8), ActivationConfig.Relu,
            new PoolConfig(PoolKind.AdaptiveAverage), new FlattenConfig(), new LinearConfig(8, 10)]);
        string cfg = NetworkConfig(dir, "bn-conv", model, [3, 32, 32], epochs: 3);
        // 3 epochs of 3 steps (180 training images: batches of 64, 64 and 52)
        double diff = OneAgainstTwo(dir, cfg, "--dataset", "cifar10", "--data-dir", data.Path);
        TestContext.Current.SendDiagnosticMessage($"BatchNorm conv net, 2 ranks × 32 vs 1 × 64: relative weight difference {diff:G3}");
        Assert.True(diff <= 1e-6, $"relative weight difference {diff:G3}");
        Directory.Delete(dir, true);
    }

    // the dropout streams of a checkpoint's model ("model/<layer>.rng"), by name
    private static Dictionary<string, string> DropoutStreams(string ckpt) =>
        CheckpointFile.Load(ckpt).Metadata.Where(m => m.Key.StartsWith("model/", StringComparison.Ordinal) && m.Key.EndsWith(".rng", StringComparison.Ordinal))
            .ToDictionary(m => m.Key, m => m.Value);

    [Fact]
    public void TwoRanksOfBatch32EqualOneProcessOfBatch64WithDropoutMlp()
    {
        // each rank draws the 64 rows' masks and keeps its 32 rows' part: every row gets one process's mask
        RequireMpi();
        string dir = Temp("dpdropout");
        var model = new SequentialConfig([
            new LinearConfig(2, 16), ActivationConfig.Relu, new DropoutConfig(0.2f),
            new LinearConfig(16, 16), ActivationConfig.Relu, new DropoutConfig(0.2f), new LinearConfig(16, 2)]);
        string cfg = NetworkConfig(dir, "dropout-mlp", model, [2], epochs: 2);
        // 2 epochs of 29 steps (1800 training rows: 28 batches of 64 and one of 8)
        double diff = OneAgainstTwo(dir, cfg, "--dataset", "spirals", "--train-samples", "2000");
        TestContext.Current.SendDiagnosticMessage($"dropout MLP, 2 ranks × 32 vs 1 × 64: relative weight difference {diff:G3}");
        Assert.True(diff <= 1e-6, $"relative weight difference {diff:G3}");
        // the streams stand where one process's do (so a resume under MPI or without it draws the same masks)
        var one = DropoutStreams(Last(Path.Combine(dir, "one")));
        Assert.Equal(2, one.Count);
        Assert.Equal(one, DropoutStreams(Last(Path.Combine(dir, "two"))));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ThreeRanksOfAnUnevenSplitEqualOneProcess()
    {
        // 64 rows as 21 + 21 + 22: shares that are not powers of two, and the reduce-scatter path of more than two ranks
        RequireMpi();
        string dir = Temp("dp3");
        string cfg = GrowthConfig(dir, batch: 64, epochs: 1, stages: 0);
        string one = Path.Combine(dir, "one"), three = Path.Combine(dir, "three");
        var single = CliHarness.Run("train", "--dataset", "spirals", "--config", cfg, "--threads", "1", "--train-samples", "1000", "--out", one, "--no-progress");
        Assert.True(single.Code == 0, single.Err);
        var mpi = Launch(3, ["train", "--dataset", "spirals", "--config", cfg, "--threads", "1", "--train-samples", "1000", "--out", three, "--no-progress", "--data-parallel"]);
        Assert.True(mpi.Code == 0, mpi.Out + mpi.Err);
        double diff = RelativeDifference(Last(three), Last(one));
        Assert.True(diff <= 1e-6, $"relative weight difference {diff:G3}");
        Directory.Delete(dir, true);
    }

    [Fact]
    public void DataParallelGrowthKeepsTheSingleProcessDecisions()
    {
        RequireMpi();
        string dir = Temp("dpgrow");
        string cfg = GrowthConfig(dir, batch: 64, epochs: 1, stages: 2);
        string one = Path.Combine(dir, "one"), two = Path.Combine(dir, "two");
        var single = CliHarness.Run("grow", "--dataset", "spirals", "--config", cfg, "--threads", "1", "--train-samples", "1000", "--out", one, "--no-progress");
        Assert.True(single.Code == 0, single.Err);
        var mpi = Launch(2, ["grow", "--dataset", "spirals", "--config", cfg, "--threads", "1", "--train-samples", "1000", "--out", two, "--no-progress", "--data-parallel"]);
        Assert.True(mpi.Code == 0, mpi.Out + mpi.Err);
        // the same allocations and widths at every growth step, weights within 1e-6 relative
        static string Allocations(string run) => string.Join("\n", File.ReadAllLines(Path.Combine(run, "events.jsonl"))
            .Select(l => JsonNode.Parse(l)!).Select(e => $"{e["stage"]} {e["layer"]} {e["widthBefore"]} {e["added"]}"));
        Assert.Equal(Allocations(one), Allocations(two));
        double diff = RelativeDifference(Last(two), Last(one));
        TestContext.Current.SendDiagnosticMessage($"data-parallel vs one process: relative weight difference {diff:G3}");
        Assert.True(diff <= 1e-6, $"relative weight difference {diff:G3}");
        Directory.Delete(dir, true);
    }

    [Fact]
    public void AKilledRankLeavesASweepThatTheRerunCompletes()
    {
        RequireMpi();
        string dir = Temp("kill");
        string spec = WriteSpec(dir, epochs: 25, hidden: 32, seeds: 2);
        string mpiOut = Path.Combine(dir, "mpi");
        bool killed = false;
        // once a run has saved a checkpoint (an epoch done) and before the sweep ends, kill -9 one rank
        var first = Launch(2, ["sweep", spec, "--out", mpiOut],
            launcher => killed = KillARankWhen(launcher, () => Directory.Exists(mpiOut) && Directory.GetDirectories(mpiOut).Any(d => File.Exists(Last(d)))));
        Assert.True(killed, "the sweep ended before a rank could be killed: " + first.Out);
        Assert.NotEqual(0, first.Code);
        Assert.False(File.Exists(Path.Combine(mpiOut, "sweep.json")));
        var rerun = Launch(2, ["sweep", spec, "--out", mpiOut]);
        Assert.True(rerun.Code == 0, rerun.Out + rerun.Err);
        Assert.Contains("finished already", rerun.Out);
        // the same results as one uninterrupted process
        var serial = CliHarness.Run("sweep", spec, "--out", Path.Combine(dir, "serial"), "--threads", "1");
        Assert.True(serial.Code == 0, serial.Err);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "serial", "sweep.json")), File.ReadAllText(Path.Combine(mpiOut, "sweep.json")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ADataParallelRunKilledMidwayResumesUnderMpiToTheSameWeights()
    {
        RequireMpi();
        string dir = Temp("dpresume");
        string cfg = GrowthConfig(dir, batch: 64, epochs: 8, stages: 1);
        string whole = Path.Combine(dir, "whole"), cut = Path.Combine(dir, "cut");
        string[] Args(string outDir) => ["grow", "--dataset", "spirals", "--config", cfg, "--threads", "1", "--train-samples", "3000", "--out", outDir, "--no-progress", "--data-parallel"];
        var uninterrupted = Launch(2, Args(whole));
        Assert.True(uninterrupted.Code == 0, uninterrupted.Out + uninterrupted.Err);
        bool killed = false;
        var first = Launch(2, Args(cut), launcher => killed = KillARankWhen(launcher, () => File.Exists(Last(cut))));
        Assert.True(killed, "the run ended before a rank could be killed: " + first.Out);
        Assert.NotEqual(0, first.Code);
        var resumed = Launch(2, ["resume", cut, "--no-progress"]);
        Assert.True(resumed.Code == 0, resumed.Out + resumed.Err);
        Assert.Contains("resuming at", resumed.Out);
        Assert.Contains("× 2 data-parallel processes", resumed.Out);
        // killed and resumed under MPI: the uninterrupted run's weights, bit for bit
        Assert.Equal(0, RelativeDifference(Last(cut), Last(whole)));
        Directory.Delete(dir, true);
    }

    // Kills (SIGKILL) one rank of the job under `launcher` as soon as `ready` holds; false when the job ended first.
    private static bool KillARankWhen(Process launcher, Func<bool> ready)
    {
        var until = DateTime.UtcNow.AddMinutes(2);
        while (!launcher.HasExited && DateTime.UtcNow < until)
        {
            if (ready())
            {
                var rank = Descendants(launcher.Id).LastOrDefault(pid => CommandLine(pid).Contains("Sprout.Cli.dll"));
                if (rank != 0)
                {
                    Process.GetProcessById(rank).Kill();
                    return true;
                }
            }
            Thread.Sleep(20);
        }
        return false;
    }

    private static IEnumerable<int> Descendants(int pid)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var d in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out int p)) continue;
            try
            {
                string stat = File.ReadAllText(Path.Combine(d, "stat"));
                int ppid = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
                if (!children.TryGetValue(ppid, out var list)) children[ppid] = list = [];
                list.Add(p);
            }
            catch (IOException) { }
        }
        var todo = new Queue<int>([pid]);
        while (todo.Count > 0)
            foreach (int c in children.GetValueOrDefault(todo.Dequeue()) ?? [])
            {
                yield return c;
                todo.Enqueue(c);
            }
    }

    private static string CommandLine(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' '); }
        catch (IOException) { return ""; }
    }

    [Fact]
    public void UnderMpiexecARunWithoutDataParallelIsAUsageError()
    {
        RequireMpi();
        var r = Launch(2, ["train", "--dataset", "spirals", "--epochs", "1", "--out", Path.Combine(Path.GetTempPath(), "sprout-never-" + Guid.NewGuid().ToString("N"))]);
        Assert.Equal(2, r.Code);
        // said once (by rank 0), not once per rank
        CliHarness.AssertOneLineError(r.Err, "running as 2 MPI processes: add --data-parallel");
    }

    [Fact]
    public void WithoutMpiexecDataParallelIsOneProcess()
    {
        // no launcher in the environment: MPI is never started and the flag changes nothing
        Assert.Equal(1, Sprout.Cli.Cluster.LaunchedRanks());
        string dir = Temp("nompi");
        string cfg = GrowthConfig(dir, batch: 64, epochs: 1, stages: 0);
        var a = CliHarness.Run("train", "--dataset", "spirals", "--config", cfg, "--threads", "1", "--train-samples", "500", "--out", Path.Combine(dir, "a"), "--no-progress");
        var b = CliHarness.Run("train", "--dataset", "spirals", "--config", cfg, "--threads", "1", "--train-samples", "500", "--out", Path.Combine(dir, "b"), "--no-progress", "--data-parallel");
        Assert.Equal(0, a.Code);
        Assert.Equal(0, b.Code);
        Assert.Equal(0, RelativeDifference(Last(Path.Combine(dir, "b")), Last(Path.Combine(dir, "a"))));
        Assert.DoesNotContain("\"ranks\"", File.ReadAllText(Path.Combine(dir, "b", "config.json")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ABadSweepSpecIsOneLine()
    {
        string dir = Temp("badspec");
        string spec = Path.Combine(dir, "spec.json");
        foreach (var (json, says) in new[]
                 {
                     ("[1, 2]", "a sweep spec is a JSON object"),
                     ("{\"base\": {}, \"axes\": {}}", "at least one axis"),
                     ("{\"axes\": {\"growth.seed\": [1]}}", "needs \"base\""),
                     ("{\"base\": " + new RunConfig("train", "x", "spirals", new GrowthRunConfig([2, 4, 2], GrowthSchedule.FromTotals())).ToJson() +
                      ", \"axes\": {\"growth.seed\": [0], \"growth.batchSize\": [0]}}", "sweep point 0 (growth.seed=0, growth.batchSize=0) is not a valid run config"),
                     ("{\"base\": {\"a\": 1}, \"axes\": {\"b.c\": [1]}}", "has no object 'b'"),
                     ("{\"base\": {}, \"axes\": {\"x\": [" + string.Join(",", Enumerable.Repeat("1", 400)) + "], \"y\": [" + string.Join(",", Enumerable.Repeat("1", 400)) + "]}}", "more than"),
                 })
        {
            File.WriteAllText(spec, json);
            var r = CliHarness.Run("sweep", spec, "--out", Path.Combine(dir, "out"));
            Assert.Equal(1, r.Code);
            CliHarness.AssertOneLineError(r.Err, says);
        }
        Directory.Delete(dir, true);
    }

    [Fact]
    public void SweepPointsAreTheGridInOrder()
    {
        var growth = new GrowthRunConfig([2, 4, 2], GrowthSchedule.FromTotals());
        var spec = Sprout.Experiments.SweepSpec.FromJson("{\"base\": " + new RunConfig("train", "g", "spirals", growth).ToJson() +
                                                  ", \"axes\": {\"growth.seed\": [3, 4], \"trainSamples\": [100, 200, 300]}}");
        var points = spec.Points();
        Assert.Equal(6, points.Count);
        Assert.Equal([3UL, 3, 3, 4, 4, 4], points.Select(p => p.Config.Growth.Seed));
        Assert.Equal([100, 200, 300, 100, 200, 300], points.Select(p => p.Config.TrainSamples));
        Assert.Equal("004-seed=4_trainSamples=200", points[4].Folder);
        Assert.Equal("g-004", points[4].Config.Name);
    }

    [Fact]
    public void SharedUnitsGoRoundTheRanks()
    {
        // unit i to rank i mod size, the same on every rank: the shares partition the units
        var shares = Enumerable.Range(0, 3).Select(r => new RunShare(r, 3)).ToArray();
        var taken = shares.Select(s => Enumerable.Range(0, 10).Where(_ => s.Take()).ToArray()).ToArray();
        Assert.Equal([0, 3, 6, 9], taken[0]);
        Assert.Equal([1, 4, 7], taken[1]);
        Assert.Equal([2, 5, 8], taken[2]);
        Assert.Equal((0, 21), GradientReducer.Share(43, 0, 2));
        Assert.Equal((21, 22), GradientReducer.Share(43, 1, 2));
        Assert.Equal((0, 0), GradientReducer.Share(1, 0, 2));
        Assert.Equal((0, 1), GradientReducer.Share(1, 1, 2));
    }
}
