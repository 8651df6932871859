using System.Text.Json;
using Sprout.Growth;
using Sprout.Kernels;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>
/// Runs a <see cref="RunSession"/> from the command line: loads (and fetches) the data, shows progress, turns Ctrl+C
/// into a saved checkpoint and exit 130, and prints the result. Shared by <c>run</c>, <c>grow</c>, <c>train</c>,
/// <c>experiment grow</c> and <c>resume</c>.
/// </summary>
internal static class RunFlow
{
    /// <summary>Exit code after Ctrl+C (128 + SIGINT), as shells report it.</summary>
    public const int Interrupted = 130;

    /// <summary>Runs or resumes <paramref name="session"/>; returns the exit code.</summary>
    public static int Execute(RunSession session, bool resume, string? dataDir, bool json, bool noProgress, string? save, int? threads = null)
    {
        var cfg = session.Config;
        var world = session.Communicator;
        if (world.IsParallel()) Cluster.QuietOtherRanks();   // rank 0 prints progress and result
        var progress = json ? Console.Error : Console.Out;
        if (world is { Rank: > 0 }) progress = TextWriter.Null;
        CheckpointFile? ck = null;
        GrowthRunState? at = null;
        if (resume)
        {
            ck = session.LastCheckpoint();
            at = ck is null ? null : GrowthRunner.ReadState(ck);
            if (at?.Phase == GrowthPhase.Done)
            {
                progress.WriteLine($"{session.Directory} has finished already: nothing to resume (sprout report {session.Directory})");
                return 0;
            }
        }
        Workers.Threads = threads ?? cfg.Threads;
        var (full, test) = RunData.Load(cfg.Dataset, dataDir, line => progress.WriteLine(line), cfg.InputScaling, cfg.Pad);
        var (train, val) = RunData.TrainValidation(full, cfg.TrainSamples, cfg.ValidationFraction, new Rng(cfg.Growth.Seed).Fork("split"));
        var g = cfg.Growth;
        string what = g.Model is null ? $"an MLP {string.Join("-", g.Widths)}" : "the configured network";
        string verb = g.Schedule.Count == 0 ? "training" : "growing";
        progress.WriteLine((resume ? (at is null ? "restarting (no checkpoint yet) " : $"resuming at {at.Describe(g.Schedule.Count)}: ") : "") +
                           $"{verb} {what} on {cfg.Dataset} ({train.Count} train / {val.Count} validation / {test.Count} test)" +
                           (g.Schedule.Count == 0 ? "" : $", extender {g.Extender.Label}, distributor {g.Distributor.Label}, {g.Schedule.Count} stages") +
                           $", seed {g.Seed}, {Workers.Threads} thread(s)" + (world.IsParallel() ? $" × {world!.Size} data-parallel processes" : "") +
                           $"; run folder {session.Directory}");
        int ranks = world.IsParallel() ? world!.Size : 0;
        if (resume && ranks != cfg.Ranks)
            progress.WriteLine($"note: the run was started with {Math.Max(cfg.Ranks, 1)} process(es) and resumes with {Math.Max(ranks, 1)}: " +
                               "it continues correctly, but not to the same bits as an uninterrupted run");

        var runner = session.Runner;
        using var view = ProgressView.Create(noProgress, toStdErr: json);
        runner.Log = view.Event;
        runner.Callbacks.Add(new TrainerProgress(view));
        session.GrowthEventWritten = e => view.Event(
            $"  stage {e.Stage}, layer {e.Layer}: {e.WidthBefore} → {e.WidthBefore + e.Added} (+{e.Added}" + (e.Vote is { } v ? $", vote {v:G4}" : "") +
            $"), max output change {e.MaxOutputChange:G3}, new inactive {e.InactiveAtInsertion} at insertion / {e.InactiveAtStageEnd} at stage end");
        int presses = 0;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // first Ctrl+C: stop at the next safe point and save; a second one: leave now (the last checkpoint stays)
            if (Interlocked.Increment(ref presses) > 1) return;
            e.Cancel = true;
            runner.Stop.Request();
        };
        Console.CancelKeyPress += onCancel;
        GrowthRunReport report;
        try
        {
            report = session.Run(train, val, test, ck);
        }
        catch (TrainingInterruptedException e)
        {
            view.Dispose();
            Cluster.ExitAgreed = true;   // every rank of a data-parallel run stops at the same point
            if (world.IsRoot())
                Console.Error.WriteLine($"sprout: interrupted: {e.Message}; " +
                                    (e.Saved ? "checkpoint saved" : $"the last checkpoint stays") +
                                    $" — continue with: sprout resume {session.Directory}");
            return Interrupted;
        }
        catch (TrainingDivergedException e)
        {
            view.Dispose();
            string last = RunFiles.LastCheckpoint(session.Directory);
            Cluster.ExitAgreed = true;   // a non-finite loss on any rank stops every rank
            if (world.IsRoot())
                Console.Error.WriteLine($"sprout: error: {e.Message}" + (File.Exists(last) ? $"; the last good checkpoint is {last}" : ""));
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        view.Dispose();
        if (save is not null && world.IsRoot()) Checkpoint.Save(runner.Model!.Module, save);
        if (json) Console.WriteLine(JsonSerializer.Serialize(report, GrowthRunConfig.JsonOptions));
        else
            Console.WriteLine($"done: widths [{string.Join(",", report.FinalWidths)}], test accuracy {report.FinalTestAccuracy:P2}; " +
                              $"run folder {session.Directory} (sprout report {session.Directory})" + (save is null ? "" : $", model {save}"));
        return 0;
    }

    // Feeds a trainer's epochs and batches to the progress view: one bar per epoch, one summary line after it; a
    // growth method's steps outside an epoch (SWE's adjustment phase) show as one phase with the trainer's name.
    private sealed class TrainerProgress(ProgressView view) : ITrainingCallback
    {
        private int _batches;
        private Trainer? _stepping;

        public void OnEpochStart(Trainer trainer)
        {
            _batches = 0;
            _stepping = null;
            view.BeginPhase($"{trainer.Name}, epoch {trainer.Epoch + 1}", 0);
        }

        public void OnStepEnd(Trainer trainer, in StepEnd step)
        {
            if (step.Batch < 0)
            {
                if (!ReferenceEquals(_stepping, trainer))
                {
                    _stepping = trainer;
                    _batches = -1;
                    view.BeginPhase(trainer.Name, 0);
                }
                return;
            }
            if (_batches != step.Batches)
            {
                _batches = step.Batches;
                view.BeginPhase($"{trainer.Name}, epoch {trainer.Epoch + 1}", step.Batches);
            }
            view.Advance(step.Batch + 1, step.Running.Loss, step.Running.Accuracy);
        }

        public void OnEpochEnd(Trainer trainer, in EpochEnd epoch) =>
            view.EndPhase($"{trainer.Name}, epoch {epoch.Epoch + 1}: loss {epoch.Train.Loss:F4}, accuracy {epoch.Train.Accuracy:P2}" +
                          (epoch.Validation is { } v ? $", validation loss {v.Loss:F4}, accuracy {v.Accuracy:P2}" : "") + $" ({epoch.Seconds:F1} s)");
    }
}
