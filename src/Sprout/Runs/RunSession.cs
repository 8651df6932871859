using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Runs;

/// <summary>
/// A run and its folder (docs/runs.md): writes config.json when the run is made, one metrics.csv row per epoch,
/// one events.jsonl line per growth step and layer, report.json after every stage and at the end, and the
/// checkpoints (last.ckpt at every safe point of the run, best.ckpt when the validation loss improves). A run that
/// was stopped or killed resumes from last.ckpt: its metrics and events are cut back to what that checkpoint had
/// seen, and it continues to the same final weights as an uninterrupted run.
/// </summary>
public sealed class RunSession
{
    private const string MetricsBytesKey = "run/metrics-bytes", EventsBytesKey = "run/events-bytes", BestKey = "run/best-val-loss";
    private double _bestVal = double.PositiveInfinity;
    private bool _metricsHeader;

    private RunSession(string dir, RunConfig config)
    {
        Directory = dir;
        Config = config;
        Runner = new GrowthRunner(config.Growth);
    }

    /// <summary>The run folder.</summary>
    public string Directory { get; }

    /// <summary>The run's config (as in config.json).</summary>
    public RunConfig Config { get; }

    /// <summary>The growth runner (stop signal, callbacks, log).</summary>
    public GrowthRunner Runner { get; }

    /// <summary>One line per growth step and layer, as it is written to events.jsonl (e.g. for a progress display).</summary>
    public Action<GrowthEvent>? GrowthEventWritten { get; set; }

    /// <summary>
    /// Called after last.ckpt is written at a safe point of <see cref="Run"/>; the run's files then hold exactly what
    /// that checkpoint has seen, so <see cref="Branch"/> may be called in it (<see cref="GrowthRunner.State"/> says where
    /// the run is).
    /// </summary>
    public Action<RunSession>? CheckpointSaved { get; set; }

    /// <summary>Called after every epoch's metrics row is written (the runner's model is the epoch's end state).</summary>
    public Action<GrowthEpoch>? EpochEnded { get; set; }

    /// <summary>Called when the run finishes, before its report and final checkpoint are written.</summary>
    public Action<GrowthRunReport>? RunFinished { get; set; }

    /// <summary>
    /// Data-parallel run over the ranks of a job (see <see cref="GrowthRunner.Communicator"/>): every rank runs the
    /// session, rank 0 alone writes the run folder (metrics, events, report, checkpoints); the others only read it (a
    /// resume's checkpoint), so the folder must be on a file system every rank sees. Null: this process alone.
    /// </summary>
    public ICommunicator? Communicator
    {
        get => Runner.Communicator;
        set => Runner.Communicator = value;
    }

    /// <summary>
    /// <see cref="Create"/> for a data-parallel run: rank 0 makes the folder (or fails) and tells every rank where it is
    /// (or the same failure), so the ranks agree on one folder even when its name comes from the clock.
    /// </summary>
    public static RunSession CreateShared(RunConfig config, string? outDir, ICommunicator? communicator, string runsRoot = "runs")
    {
        if (!communicator.IsParallel()) return Create(config, outDir, runsRoot);
        string message;
        RunSession? made = null;
        if (communicator!.Rank == 0)
        {
            try
            {
                made = Create(config, outDir, runsRoot);
                message = "ok:" + made.Directory;
            }
            catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
            {
                message = "error:" + e.Message;
            }
        }
        else message = "";
        message = communicator.Broadcast(message, 0);
        if (message.StartsWith("error:", StringComparison.Ordinal)) throw new IOException(message["error:".Length..]);
        var session = made ?? new RunSession(message["ok:".Length..], config);
        session.Communicator = communicator;
        return session;
    }

    /// <summary>Path of a run file.</summary>
    public string PathOf(string file) => Path.Combine(Directory, file);

    /// <summary>
    /// Makes a new run folder (<paramref name="outDir"/>, or <paramref name="runsRoot"/>/&lt;time&gt;-&lt;name&gt;) and
    /// writes its config.json. An existing <paramref name="outDir"/> must not hold a run already.
    /// </summary>
    public static RunSession Create(RunConfig config, string? outDir, string runsRoot = "runs")
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        string dir;
        if (outDir is not null)
        {
            if (RunFiles.IsRun(outDir))
                throw new IOException($"{outDir} already holds a run (resume it with 'sprout resume {outDir}', or choose another --out)");
            System.IO.Directory.CreateDirectory(outDir);
            dir = outDir;
        }
        else dir = RunFiles.NewRunDirectory(runsRoot, config.Name, DateTime.UtcNow);
        WriteAtomically(Path.Combine(dir, RunFiles.Config), config.ToJson());
        return new RunSession(dir, config);
    }

    /// <summary>Opens an existing run folder (for resume, eval, report); its config.json must be valid.</summary>
    public static RunSession Open(string runDir)
    {
        ArgumentNullException.ThrowIfNull(runDir);
        string path = Path.Combine(runDir, RunFiles.Config);
        if (!System.IO.Directory.Exists(runDir)) throw new IOException($"{runDir}: no such run folder");
        if (!File.Exists(path)) throw new IOException($"{runDir} is not a run folder (it has no {RunFiles.Config})");
        string json = SafeFile.ReadAllText(path, 16 << 20, problem => new FormatException($"{path}: {problem}"));
        RunConfig config;
        try { config = RunConfig.FromJson(json); }
        catch (JsonException e) { throw new FormatException($"{path}: not a run config ({e.Message.ReplaceLineEndings(" ")})"); }
        catch (ArgumentException e) { throw new FormatException($"{path}: {e.Message}"); }
        return new RunSession(runDir, config);
    }

    /// <summary>
    /// The checkpoint a resume continues from, or null when the run saved none yet. A checkpoint that is not this run's
    /// (see <see cref="GrowthRunner.CheckSameRun"/>) is a <see cref="CheckpointException"/>.
    /// </summary>
    public CheckpointFile? LastCheckpoint()
    {
        string path = RunFiles.LastCheckpoint(Directory);
        if (!Path.Exists(path)) return null;
        var ck = CheckpointFile.Load(path);
        Runner.CheckSameRun(ck);
        return ck;
    }

    /// <summary>
    /// Runs (or, with <paramref name="resume"/>, continues) the run. Throws <see cref="TrainingInterruptedException"/>
    /// when stopped (the stopping point is saved when it is a safe point) and <see cref="TrainingDivergedException"/>
    /// on a non-finite loss (the last good checkpoint stays).
    /// </summary>
    public GrowthRunReport Run(InMemoryDataset train, InMemoryDataset validation, InMemoryDataset? test, CheckpointFile? resume = null)
    {
        if (!Communicator.IsRoot()) return RunWithoutFiles(train, validation, test, resume);
        using var runLock = Lock();
        RemoveStaleTemporaryFiles();
        long metricsBytes = 0, eventsBytes = 0;
        if (resume is not null)
        {
            metricsBytes = Long(resume, MetricsBytesKey);
            eventsBytes = Long(resume, EventsBytesKey);
            _bestVal = double.Parse(resume.GetMetadata(BestKey), NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        using var metrics = OpenLog(RunFiles.Metrics, metricsBytes);
        using var events = OpenLog(RunFiles.Events, eventsBytes);
        _metricsHeader = metrics.Length > 0;
        var r = Runner;
        r.EpochCompleted = e =>
        {
            Epoch(e, metrics);
            EpochEnded?.Invoke(e);
        };
        r.StageCompleted = report => Stage(report, events);
        r.SafePoint = runner =>
        {
            var ck = runner.Capture();
            ck.Metadata[MetricsBytesKey] = metrics.Length.ToString(CultureInfo.InvariantCulture);
            ck.Metadata[EventsBytesKey] = events.Length.ToString(CultureInfo.InvariantCulture);
            ck.Metadata[BestKey] = _bestVal.ToString("R", CultureInfo.InvariantCulture);
            ck.Save(RunFiles.LastCheckpoint(Directory));
            CheckpointSaved?.Invoke(this);
        };
        // the final report is written before the checkpoint that marks the run finished: a run killed between the two
        // is not finished yet, and its resume writes the report again
        r.Finished = report =>
        {
            RunFinished?.Invoke(report);
            WriteAtomically(PathOf(RunFiles.Report), JsonSerializer.Serialize(report, GrowthRunConfig.JsonOptions));
        };
        return r.Run(train, validation, test, resume);
    }

    // A rank other than 0 of a data-parallel run: the same run, its hooks called, no file written.
    private GrowthRunReport RunWithoutFiles(InMemoryDataset train, InMemoryDataset validation, InMemoryDataset? test, CheckpointFile? resume)
    {
        var r = Runner;
        r.EpochCompleted = e => EpochEnded?.Invoke(e);
        r.StageCompleted = null;
        r.SafePoint = _ => { };   // rank 0 saves the checkpoint
        r.Finished = report => RunFinished?.Invoke(report);
        return r.Run(train, validation, test, resume);
    }

    // the temporary files of WriteAtomically and CheckpointFile.Save, named after the process that wrote them
    private static readonly Regex TemporaryRunFile = new(@"^(config|report)\.json\.tmp-\d+$", RegexOptions.CultureInvariant);
    private static readonly Regex TemporaryCheckpoint = new(@"^\.(last|best)\.ckpt\.tmp-\d+-[0-9a-f]+$", RegexOptions.CultureInvariant);

    // A process killed while it wrote one of the run's files leaves the temporary file behind (as big as a checkpoint);
    // a run that starts or resumes in the folder removes them.
    /// <summary>The lock file that keeps a second process (a second <c>resume</c>) out of a running run's folder.</summary>
    public const string LockFile = "run.lock";

    // An exclusive advisory lock (flock on Linux) held while the run writes its folder; the kernel drops it when the
    // process ends, however it ends, so a killed run's folder can be resumed at once.
    private FileStream Lock()
    {
        string path = PathOf(LockFile);
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new IOException($"{Directory} is in use by another sprout process (one process runs a run folder at a time)");
        }
    }

    private void RemoveStaleTemporaryFiles()
    {
        foreach (var (dir, pattern) in new[] { (Directory, TemporaryRunFile), (Path.Combine(Directory, RunFiles.Checkpoints), TemporaryCheckpoint) })
        {
            if (!System.IO.Directory.Exists(dir)) continue;
            foreach (var file in System.IO.Directory.EnumerateFiles(dir, "*.tmp-*"))
            {
                if (!pattern.IsMatch(Path.GetFileName(file))) continue;
                try { File.Delete(file); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>
    /// A new run folder <paramref name="outDir"/> for <paramref name="config"/> that begins with this run's history up
    /// to its last checkpoint: metrics.csv and events.jsonl as that checkpoint saw them, best.ckpt, and last.ckpt (naming
    /// the new growth config), so that <see cref="Run"/> of the returned session with <c>resume: LastCheckpoint()</c>
    /// continues from there under <paramref name="config"/>. For runs that share their beginning — one pre-trained
    /// network grown by several methods: when <paramref name="config"/> trains exactly as this run's config up to that
    /// checkpoint (e.g. the two differ only in the growth method and the checkpoint lies before the first growth step),
    /// the branch ends bit for bit where a run of <paramref name="config"/> from the start would. Call it at a safe point:
    /// in <see cref="CheckpointSaved"/>, or when <see cref="Run"/> has returned or was stopped.
    /// </summary>
    /// <exception cref="InvalidOperationException">This run has saved no checkpoint yet.</exception>
    /// <exception cref="IOException"><paramref name="outDir"/> holds a run already, or this run's files were altered.</exception>
    public RunSession Branch(RunConfig config, string outDir)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(outDir);
        var ck = LastCheckpoint() ?? throw new InvalidOperationException($"{Directory} has saved no checkpoint to branch from");
        long metricsBytes = Long(ck, MetricsBytesKey), eventsBytes = Long(ck, EventsBytesKey);
        var branch = Create(config, outDir);
        CopyPrefix(PathOf(RunFiles.Metrics), branch.PathOf(RunFiles.Metrics), metricsBytes);
        CopyPrefix(PathOf(RunFiles.Events), branch.PathOf(RunFiles.Events), eventsBytes);
        System.IO.Directory.CreateDirectory(Path.Combine(branch.Directory, RunFiles.Checkpoints));
        string best = RunFiles.BestCheckpoint(Directory);
        if (File.Exists(best)) CheckpointFile.Load(best).Save(RunFiles.BestCheckpoint(branch.Directory));
        ck.Metadata[GrowthRunner.ConfigKey] = JsonSerializer.Serialize(config.Growth, GrowthRunConfig.JsonOptions);
        ck.Save(RunFiles.LastCheckpoint(branch.Directory));
        return branch;
    }

    // The first `bytes` bytes of a run log into a new file (nothing when the log was empty at the checkpoint).
    private static void CopyPrefix(string from, string to, long bytes)
    {
        if (bytes == 0) return;
        using var src = SafeFile.OpenRead(from, problem => new IOException($"{from}: {problem}"));
        if (src.Length < bytes) throw new IOException($"{from} is shorter than its checkpoint says ({bytes} bytes): the run folder was altered");
        var buffer = new byte[(int)Math.Min(bytes, 1 << 16)];
        string tmp = to + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using (var dst = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            for (long left = bytes; left > 0;)
            {
                int n = src.Read(buffer, 0, (int)Math.Min(left, buffer.Length));
                if (n == 0) throw new IOException($"{from} ended early");
                dst.Write(buffer, 0, n);
                left -= n;
            }
            dst.Flush(flushToDisk: true);
        }
        File.Move(tmp, to, overwrite: true);
    }

    private static long Long(CheckpointFile ck, string key) =>
        long.TryParse(ck.GetMetadata(key), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : throw ck.Fail($"its '{key}' is not a byte count");

    // An append-only log cut back to `keep` bytes (what the checkpoint had seen; 0 for a fresh run).
    private FileStream OpenLog(string file, long keep)
    {
        string path = PathOf(file);
        // a FIFO or a device in the run folder would hang or feed garbage: only regular files are appended to
        if (Path.Exists(path)) SafeFile.CheckRegularFile(path, problem => new IOException($"{path}: {problem}"));
        var fs = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        if (fs.Length < keep)
        {
            fs.Dispose();
            throw new IOException($"{PathOf(file)} is shorter than its checkpoint says ({keep} bytes): the run folder was altered");
        }
        fs.SetLength(keep);
        fs.Seek(0, SeekOrigin.End);
        return fs;
    }

    private static void Append(FileStream fs, string line)
    {
        fs.Write(Encoding.UTF8.GetBytes(line + "\n"));
        fs.Flush(flushToDisk: true);
    }

    private void Epoch(GrowthEpoch e, FileStream metrics)
    {
        var model = Runner.Model!;
        if (!_metricsHeader)
        {
            Append(metrics, MetricsTable.Header(model.Sites.Select(s => s.Name).ToArray()));
            _metricsHeader = true;
        }
        Append(metrics, MetricsTable.Line(new MetricsRow(e.Stage, e.Phase, e.Epoch, e.Widths, e.Parameters, e.Train.Loss, e.Train.Accuracy,
            e.Validation.Loss, e.Validation.Accuracy, e.LearningRate, e.Seconds)));
        if (e.Validation.Samples > 0 && e.Validation.Loss < _bestVal)
        {
            _bestVal = e.Validation.Loss;
            var best = new CheckpointFile().AddModule("", model.Module);
            best.Metadata[BestKey] = _bestVal.ToString("R", CultureInfo.InvariantCulture);
            best.Save(RunFiles.BestCheckpoint(Directory));
        }
    }

    private void Stage(GrowthRunReport report, FileStream events)
    {
        var rep = report.Stages[^1];
        var c = Config.Growth;
        for (int k = 0; k < rep.Layers.Count; k++)
        {
            var l = rep.Layers[k];
            var ev = new GrowthEvent(rep.Stage + 1, l.Site, rep.WidthsBefore[k], rep.Allocation[k], c.Extender.Label, c.Distributor.Label,
                rep.Votes is { } v && k < v.Count ? v[k] : null, rep.Allocation, rep.MaxOutputChange, rep.TrainAccuracyBefore,
                rep.TrainAccuracyAfterInsertion, l.NewInactiveAtInsertion, l.NewInactiveAtEnd,
                k < rep.Extension.Count ? rep.Extension[k].AdjustSteps : 0, l.NewCosineMean, l.NewCosineMax, l.NewCosineHistogram, rep.GrowSeconds,
                rep.DistributeSeconds, rep.ExtendSeconds, rep.TrainLossBefore, rep.TrainLossAfterInsertion, rep.ValLossEnd, rep.TestLossEnd,
                rep.TestAccuracyEnd);
            Append(events, ev.ToJsonLine());
            GrowthEventWritten?.Invoke(ev);
        }
        WriteAtomically(PathOf(RunFiles.Report), JsonSerializer.Serialize(report, GrowthRunConfig.JsonOptions));
    }

    /// <summary>Writes a file so that a reader never sees a partial one: a temporary file in the same folder, flushed to disk, then a rename.</summary>
    public static void WriteAtomically(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(path);
        string tmp = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            fs.Write(Encoding.UTF8.GetBytes(text));
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
