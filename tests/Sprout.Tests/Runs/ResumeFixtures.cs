using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Runs;

/// <summary>
/// What the resume tests share: tiny growth configs, their data, comparisons of run outputs bit for bit with the
/// wall-clock figures taken out, and the CLI as a child process.
/// </summary>
internal static class ResumeFixtures
{
    /// <summary>The name of the SWE adjustment phase's trainer (the step hook targets it).</summary>
    public const string AdjustPhase = "the SWE adjustment phase";

    private static readonly Lazy<(InMemoryDataset Train, InMemoryDataset Val, InMemoryDataset Test)> Data = new(() =>
        (Sprout.Tests.Growth.GrowthFixtures.Spirals(400, 11), Sprout.Tests.Growth.GrowthFixtures.Spirals(100, 12), Sprout.Tests.Growth.GrowthFixtures.Spirals(100, 13)));

    /// <summary>400 training, 100 validation and 100 test samples of two spirals.</summary>
    public static (InMemoryDataset Train, InMemoryDataset Val, InMemoryDataset Test) Spirals => Data.Value;

    /// <summary>SWE with a short adjustment phase (a few steps on batches of 50), keeping the preset's name.</summary>
    public static ExtenderConfig Swe(string preset) => preset switch
    {
        "swe-plus" => (SweConfig)GrowthMethods.Extender(preset) with
        {
            Options = SweOptions.Plus with { AdjustSteps = 6, BatchSize = 50, MaxRecoverEpochs = 1, DeadCheckSamples = 200 },
        },
        "swe-reference" => (SweConfig)GrowthMethods.Extender(preset) with { Options = SweOptions.Reference with { AdjustSteps = 6, BatchSize = 50 } },
        _ => GrowthMethods.Extender(preset),
    };

    /// <summary>
    /// An MLP 2-8-8-2 grown in three stages of 4 neurons, two epochs of training each (batches of 50: 8 per epoch),
    /// or with early stopping on the stages (patience 1, at most 4 epochs).
    /// </summary>
    public static GrowthRunConfig Mlp(string extender = "swe-plus", string distributor = "svod", bool earlyStopping = false) =>
        new([2, 8, 8, 2], GrowthSchedule.FromTotals(4, 4, 4), Swe(extender), GrowthMethods.Distributor(distributor),
            InitialTraining: new StageTraining(2), StageTraining: earlyStopping ? new StageTraining(4, true, 1, 4) : new StageTraining(2),
            BatchSize: 50, LearningRate: 1e-2, Seed: 7, DiagnosticBatch: 100);

    /// <summary>A conv net (1×1 kernels, BatchNorm, dropout) grown in two stages; the spirals' two features are a 2-channel 1×1 image.</summary>
    public static GrowthRunConfig Conv() =>
        new([], GrowthSchedule.FromTotals(2, 2), Swe("swe-reference"), GrowthMethods.Distributor("svod"),
            InitialTraining: new StageTraining(2), StageTraining: new StageTraining(1),
            BatchSize: 50, LearningRate: 1e-2, Seed: 9, DiagnosticBatch: 100,
            Model: new SequentialConfig([
                new Conv2dConfig(2, 4, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu, new DropoutConfig(0.1f),
                new Conv2dConfig(4, 4, 1, Bias: false), new BatchNormConfig(4), ActivationConfig.Relu,
                new FlattenConfig(), new LinearConfig(4, 2),
            ]),
            InputShape: [2, 1, 1]);

    /// <summary>Calls <paramref name="onStep"/> after every optimizer step of every trainer it is attached to.</summary>
    public sealed class StepHook(Action<Trainer, StepEnd> onStep) : ITrainingCallback
    {
        public void OnStepEnd(Trainer trainer, in StepEnd step) => onStep(trainer, step);
    }

    /// <summary>Calls <paramref name="onEpoch"/> after every finished epoch of every trainer it is attached to.</summary>
    public sealed class EpochHook(Action<Trainer, EpochEnd> onEpoch) : ITrainingCallback
    {
        public void OnEpochEnd(Trainer trainer, in EpochEnd epoch) => onEpoch(trainer, epoch);
    }

    /// <summary>Every tensor of two checkpoints, bit for bit (names, shapes and values).</summary>
    public static void AssertSameTensors(CheckpointFile expected, CheckpointFile actual, Func<string, bool>? which = null)
    {
        var names = expected.TensorNames.Where(which ?? (_ => true)).ToArray();
        Assert.NotEmpty(names);
        Assert.Equal(names, actual.TensorNames.Where(which ?? (_ => true)).ToArray());
        foreach (var name in names)
        {
            var (e, a) = (expected.Get(name), actual.Get(name));
            Assert.Equal(e.Shape, a.Shape);
            for (int i = 0; i < e.Data.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(e.Data[i]) == BitConverter.SingleToInt32Bits(a.Data[i]),
                    $"{name}[{i}]: {e.Data[i]:R} vs {a.Data[i]:R}");
        }
    }

    /// <summary>
    /// Everything a checkpoint of <see cref="GrowthRunner.Capture"/> holds besides wall-clock time: its tensors, and
    /// its metadata with the run state's "seconds" taken out and the run folder's log lengths left out (they count
    /// the bytes of the metrics' seconds column).
    /// </summary>
    public static void AssertSameCheckpoint(CheckpointFile expected, CheckpointFile actual)
    {
        AssertSameTensors(expected, actual);
        Assert.Equal(Metadata(expected), Metadata(actual));
    }

    private static string Metadata(CheckpointFile ck) => string.Join("\n", ck.Metadata
        .Where(kv => kv.Key is not ("checksum" or "run/metrics-bytes" or "run/events-bytes"))
        .OrderBy(kv => kv.Key, StringComparer.Ordinal)
        .Select(kv => kv.Key + "=" + (kv.Key == GrowthRunner.StateKey ? WithoutSeconds(kv.Value) : kv.Value)));

    /// <summary>JSON with every property whose name ends in "seconds" (any case) removed, re-serialised compactly.</summary>
    public static string WithoutSeconds(string json)
    {
        var node = JsonNode.Parse(json);
        Strip(node);
        return node?.ToJsonString() ?? "null";
    }

    private static void Strip(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Select(kv => kv.Key).Where(k => k.EndsWith("seconds", StringComparison.OrdinalIgnoreCase)).ToArray()) o.Remove(key);
                foreach (var kv in o) Strip(kv.Value);
                break;
            case JsonArray a:
                foreach (var item in a) Strip(item);
                break;
        }
    }

    /// <summary>A report as JSON without its wall-clock figures.</summary>
    public static string ReportText(GrowthRunReport report) => WithoutSeconds(JsonSerializer.Serialize(report, GrowthRunConfig.JsonOptions));

    /// <summary>metrics.csv with its "seconds" column taken out (the rest byte for byte).</summary>
    public static string MetricsWithoutSeconds(string path)
    {
        var lines = File.ReadAllLines(path);
        Assert.NotEmpty(lines);
        int col = Array.IndexOf(lines[0].Split(','), "seconds");
        Assert.True(col >= 0, $"{path} has no seconds column");
        return string.Join("\n", lines.Select(l =>
        {
            var cells = l.Split(',').ToList();
            cells.RemoveAt(col);
            return string.Join(",", cells);
        }));
    }

    /// <summary>events.jsonl with every line's "seconds" taken out.</summary>
    public static string EventsWithoutSeconds(string path) => string.Join("\n", File.ReadAllLines(path).Select(WithoutSeconds));

    /// <summary>
    /// A run folder's outputs compared with another's: the last checkpoint (every tensor: model, optimizer, …, and its
    /// state), the best checkpoint's tensors, metrics.csv, events.jsonl and report.json — all without wall-clock time.
    /// </summary>
    public static void AssertSameRunFolder(string expectedDir, string actualDir)
    {
        AssertSameCheckpoint(CheckpointFile.Load(RunFiles.LastCheckpoint(expectedDir)), CheckpointFile.Load(RunFiles.LastCheckpoint(actualDir)));
        AssertSameTensors(CheckpointFile.Load(RunFiles.BestCheckpoint(expectedDir)), CheckpointFile.Load(RunFiles.BestCheckpoint(actualDir)));
        Assert.Equal(MetricsWithoutSeconds(Path.Combine(expectedDir, RunFiles.Metrics)), MetricsWithoutSeconds(Path.Combine(actualDir, RunFiles.Metrics)));
        Assert.Equal(EventsWithoutSeconds(Path.Combine(expectedDir, RunFiles.Events)), EventsWithoutSeconds(Path.Combine(actualDir, RunFiles.Events)));
        Assert.Equal(WithoutSeconds(File.ReadAllText(Path.Combine(expectedDir, RunFiles.Report))),
            WithoutSeconds(File.ReadAllText(Path.Combine(actualDir, RunFiles.Report))));
    }

    /// <summary>Runs <paramref name="body"/> with one worker thread (results are bit-identical for one thread count).</summary>
    public static T OneThread<T>(Func<T> body)
    {
        int saved = Sprout.Kernels.Workers.Threads;
        Sprout.Kernels.Workers.Threads = 1;
        try { return body(); }
        finally { Sprout.Kernels.Workers.Threads = saved; }
    }

    /// <summary>A temporary folder, deleted on dispose.</summary>
    public sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("sprout-resume-test-").FullName;

        public string Sub(string name) => System.IO.Path.Combine(Path, name);

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }
}

/// <summary>The sprout CLI as a child process (<c>dotnet Sprout.Cli.dll …</c> from the test's output folder).</summary>
internal sealed class CliProcess : IDisposable
{
    private readonly Process _p;
    private readonly System.Text.StringBuilder _out = new(), _err = new();
    private readonly object _gate = new();

    private CliProcess(Process p) => _p = p;

    /// <summary>Lines of stdout seen so far are passed here as they arrive (on a reader thread).</summary>
    public Action<string>? OnOutput { get; set; }

    public int Id => _p.Id;

    public static CliProcess Start(Action<string>? onOutput, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Sprout.Cli.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing");
        var psi = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("SPROUT_DEBUG");
        var p = new Process { StartInfo = psi };
        var cli = new CliProcess(p) { OnOutput = onOutput };
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (cli._gate) cli._out.AppendLine(e.Data);
            cli.OnOutput?.Invoke(e.Data);
        };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (cli._gate) cli._err.AppendLine(e.Data);
        };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs to the end (failing the test after <paramref name="timeout"/>); returns exit code, stdout, stderr.</summary>
    public static (int Code, string Out, string Err) Run(TimeSpan timeout, params string[] args)
    {
        using var p = Start(null, args);
        return p.Wait(timeout);
    }

    public bool HasExited => _p.HasExited;

    /// <summary>Waits for the end; kills the process and fails the test after <paramref name="timeout"/>.</summary>
    public (int Code, string Out, string Err) Wait(TimeSpan timeout)
    {
        if (!_p.WaitForExit(timeout))
        {
            Kill();
            Assert.Fail($"the CLI did not finish within {timeout.TotalSeconds} s; stdout so far:\n{Output}");
        }
        _p.WaitForExit(); // the end of the redirected streams
        return (_p.ExitCode, Output, Error);
    }

    /// <summary>Waits up to <paramref name="ms"/> milliseconds; true when the process ended.</summary>
    public bool WaitFor(int ms) => _p.WaitForExit(ms);

    /// <summary>SIGKILL (the process gets no chance to clean up).</summary>
    public void Kill()
    {
        try { _p.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { } // already gone
        _p.WaitForExit();
    }

    public string Output
    {
        get { lock (_gate) return _out.ToString(); }
    }

    public string Error
    {
        get { lock (_gate) return _err.ToString(); }
    }

    public void Dispose()
    {
        if (!_p.HasExited) Kill();
        _p.Dispose();
    }

    // the dotnet host that runs the tests (dotnet test sets DOTNET_HOST_PATH), else the one on PATH
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }
}
