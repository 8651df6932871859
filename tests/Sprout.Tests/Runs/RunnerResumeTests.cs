using Sprout.Growth;
using Sprout.Nn;
using Sprout.Training;
using Xunit;
using static Sprout.Tests.Runs.ResumeFixtures;

namespace Sprout.Tests.Runs;

/// <summary>
/// A growth run stopped anywhere — at a stage boundary, inside an epoch, inside a growth step's own training (SWE's
/// adjustment phase, SVoD's probe training) — and continued in a fresh runner from the checkpoint it left (also after
/// a save and load) ends exactly where an uninterrupted run does: every tensor of the final checkpoint (model,
/// optimizer slots, early-stopping snapshot), its RNG streams and run state, and the report, bit for bit.
/// </summary>
[Collection("Workers")]
public class RunnerResumeTests
{
    /// <summary>What a run ends with: everything <see cref="GrowthRunner.Capture"/> holds at the end, and the report.</summary>
    private sealed record Outcome(CheckpointFile Final, string Report, int[] Widths);

    private static readonly Dictionary<string, Outcome> References = new();

    /// <summary>The uninterrupted run (no safe-point handler, no callbacks), cached per config.</summary>
    private static Outcome Reference(GrowthRunConfig cfg)
    {
        string key = cfg.ToJson();
        lock (References)
        {
            if (References.TryGetValue(key, out var o)) return o;
            o = OneThread(() =>
            {
                var (train, val, test) = Spirals;
                var r = new GrowthRunner(cfg);
                var report = r.Run(train, val, test);
                Assert.Equal(GrowthPhase.Done, r.State.Phase);
                return new Outcome(r.Capture(), ReportText(report), r.Model!.Widths());
            });
            References[key] = o;
            return o;
        }
    }

    /// <summary>
    /// Runs <paramref name="cfg"/>, capturing a checkpoint at every safe point, until <paramref name="arm"/>'s stop
    /// request ends it; then continues from the last checkpoint in a fresh runner (after a file round trip when asked).
    /// </summary>
    private static (Outcome Resumed, TrainingInterruptedException Stop, CheckpointFile From, GrowthRunner First) StopAndResume(
        GrowthRunConfig cfg, Action<GrowthRunner> arm, bool roundTrip = true, Func<GrowthRunner, bool>? stopAtSafePoint = null,
        Action<GrowthRunner>? armResumed = null) => OneThread(() =>
    {
        var (train, val, test) = Spirals;
        var first = new GrowthRunner(cfg);
        CheckpointFile? last = null;
        first.SafePoint = r =>
        {
            last = r.Capture();
            if (stopAtSafePoint?.Invoke(r) == true) r.Stop.Request();
        };
        arm(first);
        var stop = Assert.Throws<TrainingInterruptedException>(() => first.Run(train, val, test));
        Assert.NotNull(last);
        var from = roundTrip ? RoundTrip(last) : last;
        var second = new GrowthRunner(cfg);
        armResumed?.Invoke(second);
        int safePoints = 0;
        second.SafePoint = r =>
        {
            safePoints++;
            r.Capture();
        };
        var report = second.Run(train, val, test, from);
        Assert.True(safePoints > 0);
        return (new Outcome(second.Capture(), ReportText(report), second.Model!.Widths()), stop, from, first);
    });

    private static CheckpointFile RoundTrip(CheckpointFile ck)
    {
        using var dir = new TempFolder();
        string path = dir.Sub("last.ckpt");
        ck.Save(path);
        return CheckpointFile.Load(path);
    }

    private static void AssertSame(Outcome expected, Outcome actual)
    {
        Assert.Equal(expected.Widths, actual.Widths);
        AssertSameCheckpoint(expected.Final, actual.Final);
        Assert.Equal(expected.Report, actual.Report);
    }

    private static GrowthRunState StateOf(CheckpointFile ck) => GrowthRunner.ReadState(ck);

    /// <summary>Stops when <paramref name="where"/> holds after an optimizer step of a trainer with the given name.</summary>
    private static Action<GrowthRunner> StopAtStep(string trainer, Func<GrowthRunner, Trainer, StepEnd, bool> where) => r =>
        r.Callbacks.Add(new StepHook((t, s) =>
        {
            if (t.Name == trainer && where(r, t, s)) r.Stop.Request();
        }));

    [Theory]
    [InlineData("swe-plus", 0, false)]
    [InlineData("swe-plus", 1, true)]
    [InlineData("swe-reference", 1, true)]
    [InlineData("swe-reference", 2, false)]
    public void AStopAtAStageBoundaryResumesBitIdentical(string extender, int stage, bool roundTrip)
    {
        var cfg = Mlp(extender);
        var (resumed, stop, from, first) = StopAndResume(cfg, _ => { }, roundTrip,
            r => r.State is { Phase: GrowthPhase.Grow } st && st.Stage == stage);
        // it stopped at the boundary: saved, before the growth step (the model has not grown past `stage` steps)
        Assert.True(stop.Saved);
        Assert.Contains($"before the growth step of stage {stage + 1}", stop.Message);
        Assert.Equal(new[] { 8, 8 }.Sum() + 4 * stage, first.Model!.Widths().Sum());
        Assert.Equal((GrowthPhase.Grow, stage), (StateOf(from).Phase, StateOf(from).Stage));
        AssertSame(Reference(cfg), resumed);
    }

    [Theory]
    [InlineData("swe-plus", "initial training", 0, 1, 3)]
    [InlineData("swe-plus", "stage 2 training", 1, 1, 5)]
    [InlineData("swe-reference", "stage 3 training", 3, 0, 1)]
    [InlineData("swe-reference", "stage 1 training", 1, 1, 7)]
    public void AStopInsideAnEpochResumesAtTheNextBatchBitIdentical(string extender, string phase, int stage, int epoch, int batch)
    {
        var cfg = Mlp(extender);
        (string Trainer, int Epoch, int Batch)? firstStep = null;
        var (resumed, stop, from, _) = StopAndResume(cfg, StopAtStep(phase, (_, t, s) => t.Epoch == epoch && s.Batch == batch),
            armResumed: r => r.Callbacks.Add(new StepHook((t, s) => firstStep ??= (t.Name, t.Epoch, s.Batch))));
        Assert.True(stop.Saved);
        var st = StateOf(from);
        // the resumed run's first step is the next batch of the same phase and epoch, counted as the stopped run counted
        if (batch < 7) Assert.Equal(((string, int, int)?)(phase, epoch, batch + 1), firstStep);
        Assert.Equal(stage == 0 ? GrowthPhase.Initial : GrowthPhase.Stage, st.Phase);
        // a stop after an epoch's last batch (of 8) lands at the epoch's end
        Assert.Equal(batch == 7 ? (epoch + 1, 0) : (epoch, batch + 1), (st.EpochsDone, st.NextBatch));
        AssertSame(Reference(cfg), resumed);
    }

    [Theory]
    [InlineData("swe-plus", 0, 1, false)]
    [InlineData("swe-plus", 1, 3, true)]
    [InlineData("swe-reference", 2, 4, true)]
    public void AStopInsideTheSweAdjustmentPhaseRepeatsTheGrowthStepBitIdentical(string extender, int stage, int step, bool roundTrip)
    {
        var cfg = Mlp(extender);
        int seen = 0, after = 0;
        var (resumed, stop, from, first) = StopAndResume(cfg, r => r.Callbacks.Add(new StepHook((t, _) =>
        {
            if (t.Name != AdjustPhase || r.State.Stage != stage) return;
            if (r.Stop.IsRequested) after++;
            else if (++seen == step) r.Stop.Request();
        })), roundTrip);
        // the adjustment phase ran, was cut at the requested step, and nothing of the growth step was saved
        Assert.Equal(step, seen);
        Assert.Equal(0, after);
        Assert.False(stop.Saved);
        Assert.Contains($"growth step of stage {stage + 1}", stop.Message);
        Assert.Equal((GrowthPhase.Grow, stage), (StateOf(from).Phase, StateOf(from).Stage));
        Assert.True(first.Model!.Widths().Sum() > 16 + 4 * stage, "the interrupted growth step had inserted its neurons");
        AssertSame(Reference(cfg), resumed);
    }

    [Theory]
    [InlineData("stage 2 training", 0, 5)]   // inside the regularised steps
    [InlineData("stage 1 training", 1, 2)]   // after them: the term ends at the same step when resumed
    public void WithSimilarityGuidedGrowthAStopInsideAStageResumesBitIdentical(string phase, int epoch, int batch)
    {
        // 12 regularised steps span the first epoch (8 batches) and part of the second
        var cfg = Mlp("swe-plus") with { Similarity = new SimilarityConfig(Iterations: 12, Lambda: 0.05) };
        var (resumed, stop, from, _) = StopAndResume(cfg, StopAtStep(phase, (_, t, s) => t.Epoch == epoch && s.Batch == batch));
        Assert.True(stop.Saved);
        Assert.Equal(GrowthPhase.Stage, StateOf(from).Phase);
        Assert.NotNull(StateOf(from).Pending!.WeightSums);
        AssertSame(Reference(cfg), resumed);
    }

    [Fact]
    public void AStopInsideSvodsProbeTrainingRepeatsTheGrowthStepBitIdentical()
    {
        var cfg = Mlp("swe-plus", "svod-topn");
        int seen = 0;
        var (resumed, stop, from, _) = StopAndResume(cfg, StopAtStep("SVoD's probe training", (r, _, _) => r.State.Stage == 1 && ++seen == 2));
        Assert.Equal(2, seen);
        Assert.False(stop.Saved);
        Assert.Equal((GrowthPhase.Grow, 1), (StateOf(from).Phase, StateOf(from).Stage));
        AssertSame(Reference(cfg), resumed);
    }

    [Theory]
    [InlineData("stage 1 training", 1, 2)]   // mid-epoch, with the early-stopping state of one finished epoch (patience 1: epochs 0 and 1 always run)
    [InlineData("stage 2 training", 1, 7)]   // the last batch: the stop lands at the epoch's end
    [InlineData("stage 3 training", 0, 4)]
    public void WithEarlyStoppingAStopMidPhaseKeepsTheEarlyStoppingStateAndBestWeights(string phase, int epoch, int batch)
    {
        var cfg = Mlp("swe-plus", earlyStopping: true);
        var (resumed, stop, from, _) = StopAndResume(cfg, StopAtStep(phase, (_, t, s) => t.Epoch == epoch && s.Batch == batch));
        Assert.True(stop.Saved);
        var st = StateOf(from);
        Assert.Equal(GrowthPhase.Stage, st.Phase);
        if (epoch > 0)
        {
            // the checkpoint carries the phase's early-stopping state and its best-weights snapshot
            Assert.NotNull(st.EarlyStopping);
            Assert.Contains(from.TensorNames, n => n.StartsWith("es/", StringComparison.Ordinal));
        }
        AssertSame(Reference(cfg), resumed);
    }

    [Fact]
    public void WithEarlyStoppingEveryEpochEndOfAStageResumesBitIdentical()
    {
        var cfg = Mlp("swe-reference", earlyStopping: true);
        var reference = Reference(cfg);
        // the stage-2 phase's epochs as the uninterrupted run trained them (early stopping may end it before 4)
        int epochs = System.Text.Json.JsonDocument.Parse(reference.Report).RootElement.GetProperty("stages")[1].GetProperty("epochs").GetInt32();
        Assert.InRange(epochs, 1, 4);
        for (int e = 1; e <= epochs; e++)
        {
            int epoch = e;
            var (resumed, stop, from, _) = StopAndResume(cfg, _ => { }, stopAtSafePoint: r => r.State is { Phase: GrowthPhase.Stage, Stage: 1 } st && st.EpochsDone == epoch);
            Assert.True(stop.Saved);
            Assert.Equal(epoch, StateOf(from).EpochsDone);
            AssertSame(reference, resumed);
        }
    }

    [Fact]
    public void StoppedAtEverySafePointInTurnTheRunEndsBitIdentical()
    {
        var cfg = Mlp("swe-plus");
        var reference = Reference(cfg);
        var (train, val, test) = Spirals;
        var outcome = OneThread(() =>
        {
            CheckpointFile? from = null;
            int stops = 0;
            while (true)
            {
                // a fresh runner each time; it stops at the first safe point it reaches and is saved and loaded
                var r = new GrowthRunner(cfg);
                CheckpointFile? last = null;
                r.SafePoint = x =>
                {
                    last = x.Capture();
                    x.Stop.Request();
                };
                try
                {
                    var report = r.Run(train, val, test, from);
                    Assert.True(stops > 10, $"only {stops} stops");
                    return new Outcome(r.Capture(), ReportText(report), r.Model!.Widths());
                }
                catch (TrainingInterruptedException e)
                {
                    Assert.True(e.Saved);
                    stops++;
                    from = RoundTrip(last!);
                }
            }
        });
        AssertSame(reference, outcome);
    }

    [Fact]
    public void AConvNetWithBatchNormAndDropoutResumesBitIdentical()
    {
        var cfg = Conv();
        var reference = Reference(cfg);
        Assert.True(reference.Widths.Sum() > 8, "the conv net grew");
        var (mid, _, _, _) = StopAndResume(cfg, StopAtStep("stage 1 training", (_, t, s) => t.Epoch == 0 && s.Batch == 4));
        AssertSame(reference, mid);
        var (boundary, _, _, _) = StopAndResume(cfg, _ => { }, stopAtSafePoint: r => r.State is { Phase: GrowthPhase.Grow, Stage: 1 });
        AssertSame(reference, boundary);
        int seen = 0;
        var (adjust, stop, _, _) = StopAndResume(cfg, StopAtStep(AdjustPhase, (r, _, _) => r.State.Stage == 1 && ++seen == 2));
        Assert.False(stop.Saved);
        AssertSame(reference, adjust);
    }

    [Fact]
    public void StopMessagesNameAPositionThatExists()
    {
        var s = GrowthRunState.Start;
        Assert.Equal("initial training, epoch 1", s.Describe(3));
        Assert.Equal("initial training, epoch 2, batch 5", (s with { EpochsDone = 1, NextBatch = 5 }).Describe(3));
        // a phase's last epoch done: not "epoch 3" of a 2-epoch phase
        Assert.Equal("stage 2 training, after epoch 2", (s with { Phase = GrowthPhase.Stage, Stage = 1, EpochsDone = 2 }).Describe(3));
        Assert.Equal("the growth step of stage 3", (s with { Phase = GrowthPhase.Grow, Stage = 2 }).Describe(3));
        // after the last of 3 stages: not "the growth step of stage 4"
        Assert.Equal("the end of the run (its final evaluation)", (s with { Phase = GrowthPhase.Grow, Stage = 3 }).Describe(3));
        // the message of a stop at the end of a phase, as the runner raises it
        var cfg = Mlp("swe-plus");
        var (_, stop, _, _) = StopAndResume(cfg, _ => { }, stopAtSafePoint: r => r.State is { Phase: GrowthPhase.Stage, Stage: 2, EpochsDone: 2 });
        Assert.Equal("stopped after stage 3 training epoch 2", stop.Message);
        var (_, end, _, _) = StopAndResume(cfg, StopAtStep("stage 3 training", (_, t, st) => t.Epoch == 1 && st.Batch == 7));
        Assert.Equal("stopped after stage 3 training epoch 2", end.Message);
    }

    [Fact]
    public void ResumingAFinishedRunTrainsNothingAndChangesNothing()
    {
        var cfg = Mlp("swe-plus");
        var reference = Reference(cfg);
        var (train, val, test) = Spirals;
        var again = OneThread(() =>
        {
            var r = new GrowthRunner(cfg);
            int steps = 0, epochs = 0, stages = 0;
            r.Callbacks.Add(new StepHook((_, _) => steps++));
            r.EpochCompleted = _ => epochs++;
            r.StageCompleted = _ => stages++;
            var report = r.Run(train, val, test, RoundTrip(reference.Final));
            Assert.Equal((0, 0, 0), (steps, epochs, stages));
            return new Outcome(r.Capture(), ReportText(report), r.Model!.Widths());
        });
        AssertSame(reference, again);
    }
}
