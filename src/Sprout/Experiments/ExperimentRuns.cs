using System.Globalization;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>
/// The run folders of an experiment: every (setting, seed) is one run folder written by a <see cref="RunSession"/>,
/// the seeds of a setting form a run group (<c>&lt;group&gt;/seed-&lt;n&gt;/</c>). Rerunning an experiment with the same
/// output folder continues it: a finished run is read back, an interrupted one resumes from its last checkpoint.
/// </summary>
public static class ExperimentRuns
{
    /// <summary>The run folder of one seed in a run group: <c>&lt;group&gt;/seed-&lt;n&gt;</c>.</summary>
    public static string SeedFolder(string groupDir, int seed) =>
        Path.Combine(groupDir, "seed-" + seed.ToString(CultureInfo.InvariantCulture));

    /// <summary>Classes of a data set with class labels (largest label + 1).</summary>
    public static int Classes(InMemoryDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var labels = data.Labels ?? throw new ArgumentException("the experiment needs class labels");
        return labels.Length == 0 ? 0 : labels.Max() + 1;
    }

    /// <summary>
    /// Runs <paramref name="config"/> in <paramref name="dir"/> through a <see cref="RunSession"/>: a new run when the
    /// folder holds none, else the run there continued from its last checkpoint (it must be a run of the same config,
    /// the thread count aside). <paramref name="stop"/> (shared by all the runs of an experiment) stops it at the next
    /// safe point with <see cref="TrainingInterruptedException"/>; <paramref name="checkpointSaved"/> sees every
    /// checkpoint it saves; <paramref name="configure"/> sees the session before it runs (to hook its events).
    /// </summary>
    internal static GrowthRunReport Run(RunConfig config, string dir, InMemoryDataset train, InMemoryDataset validation, InMemoryDataset? test,
        Action<string>? log, StopSignal? stop, Action<RunSession>? checkpointSaved = null, Action<RunSession>? configure = null)
    {
        RunSession session;
        CheckpointFile? resume = null;
        if (RunFiles.IsRun(dir))
        {
            session = RunSession.Open(dir);
            if (session.Config with { Threads = 1 } is var had && had.ToJson() != (config with { Threads = 1 }).ToJson())
                throw new IOException($"{dir} holds a run of another config (name '{had.Name}'): choose another --out, or delete it to run it again");
            resume = session.LastCheckpoint();
            if (resume is not null)
            {
                var state = GrowthRunner.ReadState(resume);
                log?.Invoke(state.Phase == GrowthPhase.Done ? $"{config.Name}: finished already ({dir})" : $"{config.Name}: continuing at {state.Describe()} ({dir})");
            }
        }
        else session = RunSession.Create(config, dir);
        if (stop is not null) session.Runner.Stop = stop;
        if (log is not null) session.Runner.Log = line => log($"{config.Name}: {line}");
        session.CheckpointSaved = checkpointSaved;
        configure?.Invoke(session);
        return session.Run(train, validation, test, resume);
    }
}
