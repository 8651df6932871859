using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sprout.Runs;

namespace Sprout.Reporting;

/// <summary>
/// One run folder as a report sees it: its metrics, growth events, report.json and config, read with bounded reads.
/// </summary>
internal sealed class LoadedRun
{
    /// <summary>Largest metrics.csv or events.jsonl a report reads (a run of a million epochs is far below it).</summary>
    internal const long MaxTableBytes = 64L << 20;

    /// <summary>Largest report.json or config.json a report reads.</summary>
    internal const long MaxJsonBytes = 16L << 20;

    public required string Dir { get; init; }
    public required string Name { get; init; }
    public required MetricsTable Metrics { get; init; }
    public required IReadOnlyList<GrowthEvent> Events { get; init; }

    /// <summary>report.json as a JSON object (null when the run has none).</summary>
    public JsonObject? Report { get; init; }

    /// <summary>config.json, indented (null when absent).</summary>
    public string? Config { get; init; }

    /// <summary>config.json parsed (null when absent).</summary>
    public JsonNode? ConfigNode { get; init; }

    /// <summary>Reads a run folder; <see cref="FormatException"/> (one line, naming the file) on anything malformed.</summary>
    public static LoadedRun Load(string dir)
    {
        string metricsPath = Path.Combine(dir, RunFiles.Metrics);
        if (!File.Exists(metricsPath))
            throw new FileNotFoundException($"{dir}: no {RunFiles.Metrics} (not a run folder, or the run has not finished an epoch)", metricsPath);
        CheckReadable(metricsPath, MaxTableBytes, allowEmpty: false);
        var metrics = MetricsTable.Read(metricsPath);
        foreach (var r in metrics.Rows)
            if (r.Widths.Count != metrics.Layers.Count)
                throw new FormatException($"{metricsPath}: a row has {r.Widths.Count} widths for {metrics.Layers.Count} layers");

        string eventsPath = Path.Combine(dir, RunFiles.Events);
        IReadOnlyList<GrowthEvent> events = [];
        if (File.Exists(eventsPath))
        {
            CheckReadable(eventsPath, MaxTableBytes, allowEmpty: true);
            if (RegularLength(eventsPath) > 0) events = GrowthEvent.ReadAll(eventsPath);
            foreach (var e in events)
                if (e.Layer is null || e.Extender is null || e.Distributor is null || e.Allocation is null || e.CosineHistogram is null)
                    throw new FormatException($"{eventsPath}: an event of stage {e.Stage} lacks a field (layer, extender, distributor, allocation or cosineHistogram)");
        }

        JsonObject? report = null;
        string reportPath = Path.Combine(dir, RunFiles.Report);
        if (File.Exists(reportPath))
            report = ReadJson(reportPath) as JsonObject
                     ?? throw new FormatException($"{reportPath}: not a JSON object");

        string? config = null;
        JsonNode? configNode = null;
        string configPath = Path.Combine(dir, RunFiles.Config);
        if (File.Exists(configPath))
        {
            configNode = ReadJson(configPath);
            config = configNode?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? "null";
        }

        return new LoadedRun
        {
            Dir = dir, Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir))),
            Metrics = metrics, Events = events, Report = report, Config = config, ConfigNode = configNode,
        };
    }

    /// <summary>
    /// The paper figures in report.json ("paper"), or none; a malformed array gives a <see cref="FormatException"/>.
    /// </summary>
    public IReadOnlyList<PaperNumber> Paper => ReadPaper(Report, Path.Combine(Dir, RunFiles.Report));

    internal static IReadOnlyList<PaperNumber> ReadPaper(JsonObject? report, string path)
    {
        if (report is null || !report.TryGetPropertyValue("paper", out var node) || node is null) return [];
        try
        {
            var list = node.Deserialize<List<PaperNumber>>(RunFiles.JsonOptions)
                       ?? throw new FormatException($"{path}: \"paper\" is null");
            if (list.Any(p => p is null || p.Table is null || p.Setting is null || p.Metric is null))
                throw new FormatException($"{path}: a \"paper\" entry lacks table, setting or metric");
            return list;
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: \"paper\" is not a list of paper figures ({e.Message})");
        }
    }

    /// <summary>A number in report.json (e.g. "finalTestAccuracy"), or NaN.</summary>
    public double ReportNumber(string name) =>
        Report is not null && Report.TryGetPropertyValue(name, out var n) && n is JsonValue v && v.TryGetValue(out double d) ? d : double.NaN;

    /// <summary>Growth steps the run made (distinct event stages, or the last metrics stage without events).</summary>
    public int GrowthSteps => Events.Count > 0 ? Events.Select(e => e.Stage).Distinct().Count()
        : Metrics.Rows.Count > 0 ? Metrics.Rows.Max(r => r.Stage) : 0;

    /// <summary>
    /// Fails with one line unless <paramref name="path"/> is a file whose size is at most <paramref name="max"/>.
    /// A FIFO or a device reports size 0, so it is refused (or read as empty) without being opened.
    /// </summary>
    internal static void CheckReadable(string path, long max, bool allowEmpty)
    {
        FileSystemInfo fi = new FileInfo(path);
        if (fi.LinkTarget is not null)
            fi = File.ResolveLinkTarget(path, returnFinalTarget: true) ?? throw new FormatException($"{path}: a broken link");
        if (!fi.Exists) throw new FormatException($"{path}: a link to nothing");
        if ((fi.Attributes & FileAttributes.Directory) != 0) throw new FormatException($"{path}: a folder, not a file");
        long length = fi is FileInfo f ? f.Length : 0;
        if (length > max) throw new FormatException($"{path}: {length} bytes, more than a report reads ({max})");
        if (length == 0 && !allowEmpty) throw new FormatException($"{path}: empty (or not a regular file)");
    }

    /// <summary>The length of the file a path (or the link at it) names; 0 for a FIFO or a device.</summary>
    private static long RegularLength(string path)
    {
        FileSystemInfo fi = new FileInfo(path);
        if (fi.LinkTarget is not null) fi = File.ResolveLinkTarget(path, returnFinalTarget: true) ?? fi;
        return fi is FileInfo f && f.Exists ? f.Length : 0;
    }

    /// <summary>Reads a JSON file of at most <see cref="MaxJsonBytes"/>; <see cref="FormatException"/> when it is not JSON.</summary>
    internal static JsonNode? ReadJson(string path)
    {
        CheckReadable(path, MaxJsonBytes, allowEmpty: false);
        string text = ReadBounded(path, MaxJsonBytes);
        try
        {
            return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new FormatException($"{path}: not JSON ({e.Message})");
        }
    }

    /// <summary>Reads at most the file's own length (and never past <paramref name="max"/>) as UTF-8.</summary>
    private static string ReadBounded(string path, long max)
    {
        long length = Math.Min(RegularLength(path), max);
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var buffer = new byte[length];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = fs.Read(buffer, total, buffer.Length - total);
            if (n == 0) break;
            total += n;
        }
        return Encoding.UTF8.GetString(buffer, 0, total);
    }
}

/// <summary>A run or a run group (its members are the seeds), as one line of a report.</summary>
internal sealed class RunSet
{
    public required string Dir { get; init; }
    public required string Name { get; set; }
    public required IReadOnlyList<LoadedRun> Members { get; init; }
    public bool IsGroup { get; init; }

    /// <summary>report.json of the group folder itself (null for a single run or a group without one).</summary>
    public JsonObject? GroupReport { get; init; }

    /// <summary>Run folders of the group left out because they have no metrics yet.</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];

    /// <summary>config.json of the group folder itself, if any.</summary>
    public string? GroupConfig { get; init; }

    /// <summary>A run folder or a run group; throws a one-line exception when <paramref name="dir"/> is neither.</summary>
    public static RunSet Load(string dir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dir);
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: no such folder");
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
        if (File.Exists(Path.Combine(dir, RunFiles.Metrics)) || RunFiles.IsRun(dir))
            return new RunSet { Dir = dir, Name = name, Members = [LoadedRun.Load(dir)] };
        var all = RunFiles.GroupMembers(dir);
        if (all.Count == 0)
            throw new FormatException($"{dir}: neither a run folder (no {RunFiles.Config} or {RunFiles.Metrics}) nor a run group (no run folders inside)");
        // A seed that has not finished an epoch yet has nothing to draw: leave it out (and say so) rather than fail.
        var members = all.Where(m => File.Exists(Path.Combine(m, RunFiles.Metrics))).ToArray();
        if (members.Length == 0)
            throw new FormatException($"{dir}: none of the group's {all.Count} runs has a {RunFiles.Metrics} yet");
        JsonObject? report = null;
        string reportPath = Path.Combine(dir, RunFiles.Report);
        if (File.Exists(reportPath))
            report = LoadedRun.ReadJson(reportPath) as JsonObject ?? throw new FormatException($"{reportPath}: not a JSON object");
        string configPath = Path.Combine(dir, RunFiles.Config);
        string? config = File.Exists(configPath)
            ? LoadedRun.ReadJson(configPath)?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) : null;
        return new RunSet
        {
            Dir = dir, Name = name, Members = members.Select(LoadedRun.Load).ToArray(), IsGroup = true,
            GroupReport = report, GroupConfig = config,
            Skipped = all.Except(members).Select(m => Path.GetFileName(m)).ToArray(),
        };
    }

    /// <summary>Growable layer names in order of first appearance over the members.</summary>
    public IReadOnlyList<string> Layers => Members.SelectMany(m => m.Metrics.Layers).Distinct().ToArray();

    /// <summary>Whether any member grew.</summary>
    public bool HasEvents => Members.Any(m => m.Events.Count > 0);

    /// <summary>
    /// The paper's figures beside ours: the group's own report.json when it has "paper"; otherwise the members'
    /// entries, with "ours" as the mean and standard deviation over the members that give the figure.
    /// </summary>
    public IReadOnlyList<PaperNumber> Paper()
    {
        var own = LoadedRun.ReadPaper(GroupReport, Path.Combine(Dir, RunFiles.Report));
        if (own.Count > 0 || Members.Count == 1) return own.Count > 0 ? own : Members[0].Paper;
        var all = Members.SelectMany(m => m.Paper).ToList();
        return all.GroupBy(p => (p.Table, p.Setting, p.Metric)).Select(g =>
        {
            var first = g.First();
            if (g.Count() == 1) return first;
            var ours = g.Select(p => p.Ours).ToArray();
            return first with { Ours = Stats.Mean(ours), OursStd = Stats.Std(ours) };
        }).ToArray();
    }
}
