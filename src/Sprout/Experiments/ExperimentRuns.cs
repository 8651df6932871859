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
    private static readonly AsyncLocal<RunShare?> Current = new();

    /// <summary>
    /// Shares the runs started inside the returned scope out over the ranks of a job (<paramref name="share"/>): each
    /// rank runs its own share and skips the others' (<see cref="Run"/> returns null for them), and a run that fails is
    /// recorded in <see cref="RunShare.Failures"/> instead of ending the experiment. Dispose to stop sharing.
    /// </summary>
    public static IDisposable Sharing(RunShare share)
    {
        ArgumentNullException.ThrowIfNull(share);
        var before = Current.Value;
        Current.Value = share;
        return new Restore(() => Current.Value = before);
    }

    /// <summary>Whether runs are being shared out over ranks here (<see cref="Sharing"/>): results are then partial.</summary>
    public static bool IsSharing => Current.Value is not null;

    /// <summary>
    /// Whether this rank runs the next unit of an experiment — a run, or a group of runs that must run in one process
    /// (e.g. runs branched from one pre-training): true without sharing, else the units go round the ranks in the
    /// experiment's order (unit i on rank i mod size), the same assignment on every rank and in every rerun.
    /// </summary>
    internal static bool Mine()
    {
        var s = Current.Value;
        return s is null || s.InGroup || s.Take();
    }

    /// <summary>Runs started inside the returned scope belong to one unit, taken with <see cref="Mine"/> before it.</summary>
    internal static IDisposable Group()
    {
        var s = Current.Value;
        if (s is null || s.InGroup) return new Restore(() => { });
        s.InGroup = true;
        return new Restore(() => s.InGroup = false);
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        private Action? _undo = undo;

        public void Dispose()
        {
            _undo?.Invoke();
            _undo = null;
        }
    }

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
    /// <remarks>
    /// Inside <see cref="Sharing"/>: returns null for a run of another rank, and for a run that failed (recorded in
    /// <see cref="RunShare.Failures"/>; a stop still ends the experiment).
    /// </remarks>
    internal static GrowthRunReport? Run(RunConfig config, string dir, InMemoryDataset train, InMemoryDataset validation, InMemoryDataset? test,
        Action<string>? log, StopSignal? stop, Action<RunSession>? checkpointSaved = null, Action<RunSession>? configure = null)
    {
        var share = Current.Value;
        if (share is null) return RunHere(config, dir, train, validation, test, log, stop, checkpointSaved, configure);
        if (!Mine()) return null;
        try
        {
            return RunHere(config, dir, train, validation, test, log, stop, checkpointSaved, configure);
        }
        catch (Exception e) when (e is not TrainingInterruptedException && e is not OutOfMemoryException)
        {
            share.Failures.Add(new RunFailure(config.Name, dir, e.Message.ReplaceLineEndings(" ")));
            log?.Invoke($"{config.Name}: failed: {e.Message.ReplaceLineEndings(" ")}");
            return null;
        }
    }

    private static GrowthRunReport RunHere(RunConfig config, string dir, InMemoryDataset train, InMemoryDataset validation, InMemoryDataset? test,
        Action<string>? log, StopSignal? stop, Action<RunSession>? checkpointSaved, Action<RunSession>? configure)
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

/// <summary>A run of a shared experiment that failed on its rank: its name, folder and the one-line reason.</summary>
public sealed record RunFailure(string Name, string Directory, string Message);

/// <summary>
/// One rank's share of the independent runs of an experiment or sweep (<see cref="ExperimentRuns.Sharing"/>): units go
/// round the ranks in the experiment's order, unit i to rank i mod <see cref="Size"/>.
/// </summary>
public sealed class RunShare
{
    private int _next;

    /// <summary>Rank <paramref name="rank"/> of <paramref name="size"/>.</summary>
    public RunShare(int rank, int size)
    {
        if (size < 1 || rank < 0 || rank >= size) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {size}");
        Rank = rank;
        Size = size;
    }

    /// <summary>This rank.</summary>
    public int Rank { get; }

    /// <summary>Ranks in the job.</summary>
    public int Size { get; }

    /// <summary>Units seen so far (this rank's and the others').</summary>
    public int Units => _next;

    /// <summary>Runs of this rank that failed.</summary>
    public List<RunFailure> Failures { get; } = [];

    internal bool InGroup { get; set; }

    internal bool Take() => _next++ % Size == Rank;
}
