using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Tests.Cli;
using Sprout.Training;
using Xunit;
using static Sprout.Tests.Runs.ResumeFixtures;

namespace Sprout.Tests.Runs;

/// <summary>
/// A run folder stopped several times — inside an epoch, at a stage boundary, inside SWE's adjustment phase — and
/// resumed each time through a freshly opened <see cref="RunSession"/> ends with the same files as a run that was never
/// stopped: checkpoints, metrics.csv, events.jsonl and report.json (wall-clock figures aside). Also through the CLI:
/// resuming a finished run touches nothing, and a run that saved no checkpoint yet starts again from scratch.
/// </summary>
[Collection("Workers")]
public class SessionResumeTests
{
    private static readonly RunConfig Config = new("grow", "resume-test", "spirals", Mlp("swe-plus"), TrainSamples: 500, ValidationFraction: 0.2);

    private static (InMemoryDataset Train, InMemoryDataset Val, InMemoryDataset Test) Data()
    {
        var (full, test) = RunData.Load(Config.Dataset, null);
        var (train, val) = RunData.TrainValidation(full, Config.TrainSamples, Config.ValidationFraction, new Rng(Config.Growth.Seed).Fork("split"));
        return (train, val, test);
    }

    private static void Uninterrupted(string dir) => OneThread(() =>
    {
        var (train, val, test) = Data();
        return RunSession.Create(Config, dir).Run(train, val, test);
    });

    /// <summary>Opens the folder afresh, resumes it from its last checkpoint and stops where <paramref name="arm"/> says.</summary>
    private static TrainingInterruptedException ResumeUntilStopped(string dir, Action<RunSession> arm) => OneThread(() =>
    {
        var (train, val, test) = Data();
        var session = RunSession.Open(dir);
        var ck = session.LastCheckpoint();
        arm(session);
        return Assert.Throws<TrainingInterruptedException>(() => session.Run(train, val, test, ck));
    });

    private static void StopAtStep(RunSession s, string trainer, Func<GrowthRunner, Trainer, StepEnd, bool> where)
    {
        var r = s.Runner;
        r.Callbacks.Add(new StepHook((t, step) =>
        {
            if (t.Name == trainer && where(r, t, step)) r.Stop.Request();
        }));
    }

    [Fact]
    public void ARunFolderStoppedFourTimesEndsWithTheUninterruptedRunsFiles()
    {
        using var tmp = new TempFolder();
        string expected = tmp.Sub("uninterrupted"), dir = tmp.Sub("stopped");
        Uninterrupted(expected);

        // 1: inside the initial training's second epoch (a fresh folder: created, then run until stopped)
        var stop = OneThread(() =>
        {
            var (train, val, test) = Data();
            var session = RunSession.Create(Config, dir);
            StopAtStep(session, "initial training", (_, t, s) => t.Epoch == 1 && s.Batch == 2);
            return Assert.Throws<TrainingInterruptedException>(() => session.Run(train, val, test));
        });
        Assert.Contains("initial training, epoch 2, batch 3", stop.Message);

        // 2: at the boundary after stage 1 (its events are written, then the stage's checkpoint, then the stop)
        stop = ResumeUntilStopped(dir, s => s.GrowthEventWritten = _ => s.Runner.Stop.Request());
        Assert.Contains("before the growth step of stage 2", stop.Message);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(dir, RunFiles.Events)).Length);   // one line per layer

        // 3: inside stage 2's SWE adjustment phase (nothing of the growth step is saved)
        stop = ResumeUntilStopped(dir, s => StopAtStep(s, AdjustPhase, (_, _, _) => true));
        Assert.False(stop.Saved);

        // a killed process may have written past its last checkpoint: a metrics row and an event line it never saved
        File.AppendAllText(Path.Combine(dir, RunFiles.Metrics), "9,stage,9,1,2,3,4,5,6,7,8,9\n");
        File.AppendAllText(Path.Combine(dir, RunFiles.Events), "{\"stage\": 9}\n");

        // 4: inside stage 3's training, at its first epoch's last batch but one
        stop = ResumeUntilStopped(dir, s => StopAtStep(s, "stage 3 training", (_, t, st) => t.Epoch == 0 && st.Batch == 6));
        Assert.Contains("stage 3 training, epoch 1, batch 7", stop.Message);

        OneThread(() =>
        {
            var (train, val, test) = Data();
            var session = RunSession.Open(dir);
            return session.Run(train, val, test, session.LastCheckpoint());
        });
        AssertSameRunFolder(expected, dir);
    }

    [Fact]
    public void AResumeBeforeAnEpochThatIsNoBestKeepsTheBestCheckpoint()
    {
        using var tmp = new TempFolder();
        string full = tmp.Sub("uninterrupted"), once = tmp.Sub("stopped-once"), twice = tmp.Sub("stopped-twice");
        Uninterrupted(full);
        // the first epoch whose validation loss is no new best
        var rows = File.ReadAllLines(Path.Combine(full, RunFiles.Metrics)).Skip(1).Select(l => l.Split(',')).ToArray();
        double best = double.PositiveInfinity;
        int worse = -1;
        for (int i = 0; i < rows.Length && worse < 0; i++)
        {
            double v = double.Parse(rows[i][6], System.Globalization.CultureInfo.InvariantCulture);
            if (v >= best) worse = i;
            best = Math.Min(best, v);
        }
        Assert.True(worse > 0, "the run's validation loss improved every epoch: no epoch to test with");
        // the run stopped right after that epoch, and one stopped before it, resumed, and stopped after it: the same
        // best checkpoint (the best epoch's weights, not the first epoch after the resume) and the same last one
        StopAfter(once, rows[worse], resume: false);
        StopAfter(twice, rows[worse - 1], resume: false);
        StopAfter(twice, rows[worse], resume: true);
        AssertSameTensors(CheckpointFile.Load(RunFiles.BestCheckpoint(once)), CheckpointFile.Load(RunFiles.BestCheckpoint(twice)));
        AssertSameCheckpoint(CheckpointFile.Load(RunFiles.LastCheckpoint(once)), CheckpointFile.Load(RunFiles.LastCheckpoint(twice)));
        Assert.Equal(MetricsWithoutSeconds(Path.Combine(once, RunFiles.Metrics)), MetricsWithoutSeconds(Path.Combine(twice, RunFiles.Metrics)));
    }

    // runs (or resumes) the folder until the epoch of a metrics row has ended and been saved
    private static void StopAfter(string dir, string[] row, bool resume) => OneThread(() =>
    {
        string trainer = row[0] == "0" ? "initial training" : $"stage {row[0]} training";
        int epoch = int.Parse(row[2], System.Globalization.CultureInfo.InvariantCulture);
        var (train, val, test) = Data();
        var session = resume ? RunSession.Open(dir) : RunSession.Create(Config, dir);
        session.Runner.Callbacks.Add(new EpochHook((t, e) =>
        {
            if (t.Name == trainer && e.Epoch + 1 == epoch) session.Runner.Stop.Request();
        }));
        var stop = Assert.Throws<TrainingInterruptedException>(() => session.Run(train, val, test, resume ? session.LastCheckpoint() : null));
        Assert.True(stop.Saved);
        return stop;
    });

    [Fact]
    public void TheFinalReportIsWrittenBeforeTheCheckpointThatMarksTheRunFinished()
    {
        // a run killed right after its last checkpoint is finished for good (resume has nothing to do): its report.json
        // must be final by then, not the partial one of its last stage
        using var tmp = new TempFolder();
        string dir = tmp.Sub("run");
        string? reportWhenFinished = null;
        var report = OneThread(() =>
        {
            var (train, val, test) = Data();
            var session = RunSession.Create(Config, dir);
            CheckpointFile.AfterTensorWritten = _ =>
            {
                if (session.Runner.State.Phase == GrowthPhase.Done) reportWhenFinished ??= File.ReadAllText(Path.Combine(dir, RunFiles.Report));
            };
            try { return session.Run(train, val, test); }
            finally { CheckpointFile.AfterTensorWritten = null; }
        });
        Assert.NotNull(reportWhenFinished);
        Assert.False(double.IsNaN(report.FinalTestAccuracy));
        Assert.Equal(ReportText(report), WithoutSeconds(reportWhenFinished));
    }

    private static string[] Grow(string dir) =>
        ["grow", "--dataset", "spirals", "--stages", "2", "--epochs", "1", "--train-samples", "500", "--threads", "1", "--no-progress", "--out", dir];

    private static Dictionary<string, byte[]> Files(string dir) => Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
        .ToDictionary(f => Path.GetRelativePath(dir, f), File.ReadAllBytes);

    [Fact]
    public void ResumingAFinishedRunWithTheCliSaysSoAndTouchesNothing()
    {
        using var tmp = new TempFolder();
        string dir = tmp.Sub("run");
        var (code, _, err) = CliHarness.Run(Grow(dir));
        Assert.True(code == 0, err);
        var before = Files(dir);
        (code, var output, err) = CliHarness.Run("resume", dir, "--no-progress");
        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Contains("has finished already", output);
        var after = Files(dir);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (name, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(after[name]), $"{name} changed");
    }

    [Fact]
    public void ResumingARunWithoutACheckpointStartsItFromScratch()
    {
        using var tmp = new TempFolder();
        string expected = tmp.Sub("uninterrupted"), dir = tmp.Sub("no-checkpoint");
        var (code, _, err) = CliHarness.Run(Grow(expected));
        Assert.True(code == 0, err);
        // a run killed in its first epoch: config.json, and a metrics header and a row written before any checkpoint
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(expected, RunFiles.Config), Path.Combine(dir, RunFiles.Config));
        File.WriteAllLines(Path.Combine(dir, RunFiles.Metrics), File.ReadAllLines(Path.Combine(expected, RunFiles.Metrics)).Take(2));
        (code, var output, err) = CliHarness.Run("resume", dir, "--no-progress");
        Assert.True(code == 0, err);
        Assert.Contains("restarting (no checkpoint yet)", output);
        AssertSameRunFolder(expected, dir);
    }

    [Fact]
    public void ASecondProcessCannotRunAFolderThatIsRunning()
    {
        string dir = Directory.CreateTempSubdirectory("sprout-locked-").FullName;
        try
        {
            IOException? refused = null;
            OneThread(() =>
            {
                var (train, val, test) = Data();
                var first = RunSession.Create(Config, dir);
                // while the first run trains, a second session on the same folder (a second `sprout resume`) is refused
                first.CheckpointSaved = _ =>
                {
                    if (refused is not null) return;
                    var second = RunSession.Open(dir);
                    refused = Assert.Throws<IOException>(() => second.Run(train, val, test, second.LastCheckpoint()));
                };
                return first.Run(train, val, test);
            });
            Assert.NotNull(refused);
            Assert.Contains("in use by another sprout process", refused!.Message);
            // the lock ends with the run: the folder's lock file can be taken again at once
            using (new FileStream(Path.Combine(dir, RunSession.LockFile), FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
