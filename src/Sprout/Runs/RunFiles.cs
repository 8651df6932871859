using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Sprout.Tensors;

namespace Sprout.Runs;

/// <summary>
/// The files of a run folder (<c>runs/&lt;time&gt;-&lt;name&gt;/</c>), described in docs/runs.md. A folder whose
/// subfolders are run folders (one per seed) is a run group.
/// </summary>
public static class RunFiles
{
    /// <summary>The fully resolved config; rerunning it reproduces the run.</summary>
    public const string Config = "config.json";

    /// <summary>One row per trained epoch (<see cref="MetricsRow"/>).</summary>
    public const string Metrics = "metrics.csv";

    /// <summary>One JSON line per growth event (<see cref="GrowthEvent"/>).</summary>
    public const string Events = "events.jsonl";

    /// <summary>The final (or, while running, partial) report.</summary>
    public const string Report = "report.json";

    /// <summary>Folder of the checkpoints.</summary>
    public const string Checkpoints = "checkpoints";

    /// <summary>The checkpoint a run resumes from.</summary>
    public static string LastCheckpoint(string runDir) => Path.Combine(runDir, Checkpoints, "last.ckpt");

    /// <summary>The checkpoint with the best validation loss so far.</summary>
    public static string BestCheckpoint(string runDir) => Path.Combine(runDir, Checkpoints, "best.ckpt");

    /// <summary>Whether <paramref name="dir"/> is a run folder (it has a config.json).</summary>
    public static bool IsRun(string dir) => File.Exists(Path.Combine(dir, Config));

    /// <summary>The run folders directly below a run group, sorted by name (empty when none).</summary>
    public static IReadOnlyList<string> GroupMembers(string dir) =>
        Directory.Exists(dir) ? Directory.GetDirectories(dir).Where(IsRun).OrderBy(d => d, StringComparer.Ordinal).ToArray() : [];

    /// <summary>The name of a folder made at <paramref name="utcNow"/>: &lt;yyyyMMdd-HHmmss&gt;-<paramref name="name"/>.</summary>
    public static string TimestampedName(string name, DateTime utcNow) =>
        utcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + name;

    /// <summary>A new folder <paramref name="root"/>/<see cref="TimestampedName"/> (suffixed when it exists).</summary>
    public static string NewRunDirectory(string root, string name, DateTime utcNow)
    {
        string stem = Path.Combine(root, TimestampedName(name, utcNow));
        string dir = stem;
        for (int k = 2; Directory.Exists(dir); k++) dir = stem + "-" + k.ToString(CultureInfo.InvariantCulture);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// Sets the <c>"paper"</c> array of <paramref name="dir"/>'s report.json — the published figures beside ours that
    /// <c>sprout report</c> shows — keeping everything else in it; a folder without report.json (e.g. a run group) gets
    /// one holding just the array. Written atomically.
    /// </summary>
    /// <exception cref="FormatException">The existing report.json is not a JSON object.</exception>
    public static void WritePaper(string dir, IReadOnlyList<PaperNumber> paper)
    {
        ArgumentNullException.ThrowIfNull(dir);
        ArgumentNullException.ThrowIfNull(paper);
        string path = Path.Combine(dir, Report);
        JsonObject report;
        if (File.Exists(path))
        {
            string text = SafeFile.ReadAllText(path, MaxJsonBytes, problem => new FormatException($"{path}: {problem}"));
            try
            {
                report = JsonNode.Parse(text) as JsonObject ?? throw new FormatException($"{path}: not a JSON object");
            }
            catch (JsonException e)
            {
                throw new FormatException($"{path}: not JSON ({e.Message.ReplaceLineEndings(" ")})");
            }
        }
        else report = new JsonObject();
        report["paper"] = JsonSerializer.SerializeToNode(paper, JsonOptions);
        RunSession.WriteAtomically(path, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }

    /// <summary>Largest report.json or config.json read: 16 MiB.</summary>
    public const long MaxJsonBytes = 16L << 20;

    /// <summary>Largest run file read (metrics.csv, events.jsonl): 256 MiB.</summary>
    public const long MaxFileBytes = 256L << 20;

    /// <summary>
    /// The lines of a run file: a regular UTF-8 file of at most <see cref="MaxFileBytes"/> (see
    /// <see cref="SafeFile"/>); anything else is a <see cref="FormatException"/> naming the file.
    /// </summary>
    internal static string[] ReadLines(string path)
    {
        string text = SafeFile.ReadAllText(path, MaxFileBytes, problem => new FormatException($"{path}: {problem}"));
        if (text.Length == 0) return [];
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++) if (lines[i].EndsWith('\r')) lines[i] = lines[i][..^1];
        return text.EndsWith('\n') ? lines[..^1] : lines;
    }

    /// <summary>JSON options of every run file (camelCase, enums as strings, NaN allowed).</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter() },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

/// <summary>
/// One row of metrics.csv: one trained epoch of the model being grown.
/// </summary>
/// <param name="Stage">Growth steps done before this epoch (0 = the initial network).</param>
/// <param name="Phase">"initial" (before the first growth step), "stage" (training after a growth step), or a
/// method's own phase of the whole model (e.g. "adjust", "recover").</param>
/// <param name="Epoch">Epoch within the phase, from 1.</param>
/// <param name="Widths">Width of every growable layer, in <see cref="MetricsTable.Layers"/> order.</param>
/// <param name="Parameters">Trainable parameter count.</param>
/// <param name="TrainLoss">Mean training loss over the epoch.</param>
/// <param name="TrainAccuracy">Training accuracy over the epoch (0..1; NaN for a loss without classes).</param>
/// <param name="ValLoss">Validation loss after the epoch (NaN without validation).</param>
/// <param name="ValAccuracy">Validation accuracy after the epoch (0..1 or NaN).</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="Seconds">Wall time since the run started (cumulative, across resumes).</param>
public sealed record MetricsRow(int Stage, string Phase, int Epoch, IReadOnlyList<int> Widths, long Parameters,
    double TrainLoss, double TrainAccuracy, double ValLoss, double ValAccuracy, double LearningRate, double Seconds);

/// <summary>metrics.csv: the layer names of the header and the rows.</summary>
/// <param name="Layers">Growable layer names (the width columns are "width:&lt;name&gt;").</param>
/// <param name="Rows">Rows in file order.</param>
public sealed record MetricsTable(IReadOnlyList<string> Layers, IReadOnlyList<MetricsRow> Rows)
{
    private static readonly string[] Fixed =
        ["stage", "phase", "epoch", "parameters", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"];

    /// <summary>The header line for these layers.</summary>
    public static string Header(IReadOnlyList<string> layers) =>
        string.Join(",", Fixed.Concat(layers.Select(l => "width:" + l)));

    /// <summary>One CSV line (invariant culture, round-trip doubles, "NaN" for missing values).</summary>
    public static string Line(MetricsRow r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var sb = new StringBuilder();
        sb.Append(r.Stage.ToString(CultureInfo.InvariantCulture)).Append(',').Append(r.Phase).Append(',')
          .Append(r.Epoch.ToString(CultureInfo.InvariantCulture)).Append(',')
          .Append(r.Parameters.ToString(CultureInfo.InvariantCulture));
        foreach (double v in (double[])[r.TrainLoss, r.TrainAccuracy, r.ValLoss, r.ValAccuracy, r.LearningRate, r.Seconds])
            sb.Append(',').Append(v.ToString("R", CultureInfo.InvariantCulture));
        foreach (int w in r.Widths) sb.Append(',').Append(w.ToString(CultureInfo.InvariantCulture));
        return sb.ToString();
    }

    /// <summary>Reads metrics.csv; throws <see cref="FormatException"/> naming the line on anything malformed.</summary>
    public static MetricsTable Read(string path)
    {
        var lines = RunFiles.ReadLines(path);
        if (lines.Length == 0) throw new FormatException($"{path}: empty (no header)");
        var head = lines[0].Split(',');
        if (head.Length < Fixed.Length || !head.AsSpan(0, Fixed.Length).SequenceEqual(Fixed)
            || head.Skip(Fixed.Length).Any(h => !h.StartsWith("width:", StringComparison.Ordinal)))
            throw new FormatException($"{path}: not a Sprout metrics file (header '{Truncate(lines[0])}')");
        var layers = head.Skip(Fixed.Length).Select(h => h["width:".Length..]).ToArray();
        var rows = new List<MetricsRow>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var f = lines[i].Split(',');
            if (f.Length != head.Length) throw new FormatException($"{path}:{i + 1}: {f.Length} fields, the header has {head.Length}");
            try
            {
                rows.Add(new MetricsRow(int.Parse(f[0], CultureInfo.InvariantCulture), f[1], int.Parse(f[2], CultureInfo.InvariantCulture),
                    f.Skip(Fixed.Length).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
                    long.Parse(f[3], CultureInfo.InvariantCulture), D(f[4]), D(f[5]), D(f[6]), D(f[7]), D(f[8]), D(f[9])));
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new FormatException($"{path}:{i + 1}: {e.Message}");
            }
        }
        return new MetricsTable(layers, rows);
    }

    private static double D(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static string Truncate(string s) => s.Length <= 60 ? s : s[..60] + "…";
}

/// <summary>
/// One line of events.jsonl: what one growth step did to one growable layer, written when the stage's training ends.
/// </summary>
/// <param name="Stage">Growth step (1 = the first).</param>
/// <param name="Layer">Growable layer name.</param>
/// <param name="WidthBefore">Width before the step.</param>
/// <param name="Added">Neurons added to this layer.</param>
/// <param name="Extender">Extender (method) name.</param>
/// <param name="Distributor">Distributor name.</param>
/// <param name="Vote">This layer's vote or score from the distributor (null when it has none).</param>
/// <param name="Allocation">Neurons per layer for the whole step (all layers, in metrics order).</param>
/// <param name="MaxOutputChange">max |output change| on the diagnostic batch across the insertion (whole model).</param>
/// <param name="TrainAccuracyBefore">Training accuracy right before the insertion.</param>
/// <param name="TrainAccuracyAfter">Training accuracy right after the insertion (before stage training).</param>
/// <param name="InactiveAtInsertion">New neurons of this layer inactive on the training data right after insertion.</param>
/// <param name="InactiveAtStageEnd">The same at the end of the stage's training.</param>
/// <param name="AdjustSteps">Optimizer steps of the method's own adjustment phase for this layer (0 if none).</param>
/// <param name="CosineMean">Mean pairwise cosine of the new neurons' incoming weights after insertion (NaN if fewer than 2).</param>
/// <param name="CosineMax">Largest such cosine.</param>
/// <param name="CosineHistogram">20-bin histogram of those cosines over [−1, 1].</param>
/// <param name="Seconds">Wall time of the growth step for the whole model: distribute + extend and the runner's
/// measurements around them (accuracy before and after, activity, cosines).</param>
/// <param name="DistributeSeconds">Wall time of the distributor alone (whole model; NaN in events written before it was recorded).</param>
/// <param name="ExtendSeconds">Wall time of the extender alone (whole model).</param>
/// <param name="TrainLossBefore">Training loss right before the insertion (whole model; NaN in events written before it was recorded).</param>
/// <param name="TrainLossAfter">Training loss right after the insertion.</param>
/// <param name="ValLossEnd">Validation loss at the end of the stage.</param>
/// <param name="TestLossEnd">Test loss at the end of the stage (NaN without a test set): a reconstruction run's result.</param>
/// <param name="TestAccuracyEnd">Test accuracy at the end of the stage (NaN without a test set or for a loss without classes).</param>
public sealed record GrowthEvent(int Stage, string Layer, int WidthBefore, int Added, string Extender, string Distributor,
    double? Vote, IReadOnlyList<int> Allocation, double MaxOutputChange, double TrainAccuracyBefore, double TrainAccuracyAfter,
    int InactiveAtInsertion, int InactiveAtStageEnd, int AdjustSteps, double CosineMean, double CosineMax,
    IReadOnlyList<int> CosineHistogram, double Seconds, double DistributeSeconds = double.NaN, double ExtendSeconds = double.NaN,
    double TrainLossBefore = double.NaN, double TrainLossAfter = double.NaN, double ValLossEnd = double.NaN, double TestLossEnd = double.NaN,
    double TestAccuracyEnd = double.NaN)
{
    /// <summary>One JSON line.</summary>
    public string ToJsonLine() => JsonSerializer.Serialize(this, RunFiles.JsonOptions);

    /// <summary>Reads events.jsonl; throws <see cref="FormatException"/> naming the line on anything malformed.</summary>
    public static IReadOnlyList<GrowthEvent> ReadAll(string path)
    {
        var list = new List<GrowthEvent>();
        int n = 0;
        foreach (var line in RunFiles.ReadLines(path))
        {
            n++;
            if (line.Length == 0) continue;
            try
            {
                list.Add(JsonSerializer.Deserialize<GrowthEvent>(line, RunFiles.JsonOptions)
                         ?? throw new FormatException("null event"));
            }
            catch (JsonException e)
            {
                throw new FormatException($"{path}:{n}: not a growth event ({e.Message})");
            }
        }
        return list;
    }
}

/// <summary>A published figure beside ours, for reports (in report.json under "paper").</summary>
/// <param name="Table">Where the paper gives it (e.g. "000 Table 3").</param>
/// <param name="Setting">Data set, model and method (e.g. "MNIST, 1 hidden, SWE").</param>
/// <param name="Metric">What is measured (e.g. "test accuracy %").</param>
/// <param name="Paper">The paper's value.</param>
/// <param name="PaperStd">The paper's ± (NaN if none).</param>
/// <param name="Ours">Our value (mean over seeds).</param>
/// <param name="OursStd">Our standard deviation over seeds (NaN for one seed).</param>
public sealed record PaperNumber(string Table, string Setting, string Metric, double Paper, double PaperStd, double Ours, double OursStd);
