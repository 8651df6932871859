using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sprout.Growth;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Training;

namespace Sprout.Experiments;

/// <summary>
/// A grid of run configs: a base <see cref="RunConfig"/> (e.g. a run folder's config.json) and axes, each a path into
/// the base's JSON (property names joined by dots, e.g. <c>growth.seed</c>, <c>growth.learningRate</c>,
/// <c>trainSamples</c>) with the values it takes. The points are every combination, the last axis varying fastest.
/// As JSON: <c>{"base": {…run config…}, "axes": {"growth.seed": [0, 1, 2], "growth.learningRate": [0.001, 0.01]}}</c>.
/// </summary>
/// <param name="Base">The base config as JSON (each point is it with the axes' values put in).</param>
/// <param name="Axes">The axes, in order.</param>
public sealed record SweepSpec(JsonObject Base, IReadOnlyList<SweepAxis> Axes)
{
    /// <summary>The most points a sweep may have.</summary>
    public const int MaxPoints = 100_000;

    /// <summary>Reads a spec; throws <see cref="FormatException"/> (one line, naming what is wrong) on bad input.</summary>
    public static SweepSpec FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? root;
        try { root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new FormatException($"not a sweep spec: {e.Message.ReplaceLineEndings(" ")}"); }
        if (root is not JsonObject obj) throw new FormatException("a sweep spec is a JSON object {\"base\": {…}, \"axes\": {…}}");
        foreach (var (key, _) in obj)
            if (key is not ("base" or "axes")) throw new FormatException($"unknown key '{key}' in the sweep spec (known: base, axes)");
        if (obj["base"] is not JsonObject b) throw new FormatException("the sweep spec needs \"base\": a run config object (e.g. a run folder's config.json)");
        if (obj["axes"] is not JsonObject a || a.Count == 0) throw new FormatException("the sweep spec needs \"axes\": {\"path.to.field\": [values…], …} with at least one axis");
        var axes = new List<SweepAxis>();
        long points = 1;
        foreach (var (path, values) in a)
        {
            if (values is not JsonArray arr || arr.Count == 0) throw new FormatException($"axis '{path}' must be a non-empty array of values");
            points *= arr.Count;
            if (points > MaxPoints) throw new FormatException($"the sweep has more than {MaxPoints:N0} points");
            axes.Add(new SweepAxis(path, arr.Select(v => v?.DeepClone()).ToArray()));
        }
        var spec = new SweepSpec((JsonObject)b.DeepClone(), axes);
        _ = spec.Points();   // every point must be a valid run config
        return spec;
    }

    /// <summary>Every point of the grid, in order (the last axis varying fastest).</summary>
    public IReadOnlyList<SweepPoint> Points()
    {
        int count = Axes.Aggregate(1, (n, a) => n * a.Values.Count);
        var points = new List<SweepPoint>(count);
        for (int i = 0; i < count; i++)
        {
            var node = (JsonObject)Base.DeepClone();
            var values = new List<KeyValuePair<string, string>>();
            int rest = i;
            var picks = new int[Axes.Count];
            for (int k = Axes.Count - 1; k >= 0; k--)
            {
                picks[k] = rest % Axes[k].Values.Count;
                rest /= Axes[k].Values.Count;
            }
            for (int k = 0; k < Axes.Count; k++)
            {
                var v = Axes[k].Values[picks[k]];
                Set(node, Axes[k].Path, v?.DeepClone());
                values.Add(new(Axes[k].Path, v?.ToJsonString() ?? "null"));
            }
            RunConfig cfg;
            try { cfg = RunConfig.FromJson(node.ToJsonString()); }
            catch (Exception e) when (e is JsonException or ArgumentException or NotSupportedException or InvalidOperationException)
            {
                throw new FormatException($"sweep point {i} ({string.Join(", ", values.Select(p => $"{p.Key}={p.Value}"))}) is not a valid run config: " +
                                          e.Message.ReplaceLineEndings(" "));
            }
            string index = i.ToString("D3", CultureInfo.InvariantCulture);
            string name = cfg.Name.Length + 1 + index.Length <= 64 ? $"{cfg.Name}-{index}" : $"sweep-{index}";
            points.Add(new SweepPoint(i, $"{index}-{Slug(values)}", values, cfg with { Name = name }));
        }
        return points;
    }

    // Puts value at a dotted path of property names (matched case-insensitively); every object on the way must exist.
    private static void Set(JsonObject root, string path, JsonNode? value)
    {
        var parts = path.Split('.');
        if (parts.Any(p => p.Length == 0)) throw new FormatException($"axis '{path}' is not a dotted path of property names");
        JsonObject at = root;
        for (int i = 0; i < parts.Length; i++)
        {
            string key = at.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, parts[i], StringComparison.OrdinalIgnoreCase)) ?? parts[i];
            if (i == parts.Length - 1)
            {
                at[key] = value;
                return;
            }
            at = at[key] as JsonObject ?? throw new FormatException($"axis '{path}': the base config has no object '{string.Join('.', parts[..(i + 1)])}'");
        }
    }

    private static string Slug(List<KeyValuePair<string, string>> values)
    {
        var sb = new StringBuilder();
        foreach (var (path, value) in values)
        {
            if (sb.Length > 0) sb.Append('_');
            sb.Append(path[(path.LastIndexOf('.') + 1)..]).Append('=');
            foreach (char ch in value) sb.Append(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '-' ? ch : '_');
        }
        return sb.Length <= 80 ? sb.ToString() : sb.ToString(0, 80);
    }
}

/// <summary>One axis of a <see cref="SweepSpec"/>: a dotted path into the base config and its values.</summary>
public sealed record SweepAxis(string Path, IReadOnlyList<JsonNode?> Values);

/// <summary>One point of a sweep: its index, its run folder's name, the axes' values (as JSON) and its run config.</summary>
public sealed record SweepPoint(int Index, string Folder, IReadOnlyList<KeyValuePair<string, string>> Values, RunConfig Config);

/// <summary>The result of one finished sweep point.</summary>
/// <param name="Index">The point's index.</param>
/// <param name="Folder">Its run folder, relative to the sweep's folder.</param>
/// <param name="Values">The axes' values (JSON).</param>
/// <param name="FinalWidths">Width of every growable layer at the end.</param>
/// <param name="FinalTestAccuracy">Test accuracy at the end (NaN for reconstruction).</param>
/// <param name="FinalTestLoss">Test loss at the end.</param>
public sealed record SweepResult(int Index, string Folder, IReadOnlyDictionary<string, string> Values, int[] FinalWidths,
    double FinalTestAccuracy, double FinalTestLoss);

/// <summary>
/// Runs a <see cref="SweepSpec"/>: each point is one run folder <c>&lt;out&gt;/&lt;index&gt;-&lt;values&gt;</c> run
/// through <see cref="ExperimentRuns.Run"/> (so a rerun skips finished points and resumes interrupted ones, and under
/// <see cref="ExperimentRuns.Sharing"/> the points go round the ranks of a job), and the results are one table,
/// <c>sweep.md</c> and <c>sweep.json</c>.
/// </summary>
public static class Sweep
{
    /// <summary>
    /// Runs every point (data from <paramref name="load"/>: a data set's full training and test sets for a config, split
    /// as a run folder splits them), with <paramref name="threads"/> recorded in each config. Returns the finished points
    /// (all of them unless shared over ranks).
    /// </summary>
    public static IReadOnlyList<SweepResult> Run(SweepSpec spec, string outDir, int threads,
        Func<RunConfig, (InMemoryDataset Train, InMemoryDataset Test)> load, Action<string>? log = null, StopSignal? stop = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(outDir);
        ArgumentNullException.ThrowIfNull(load);
        var results = new List<SweepResult>();
        foreach (var p in spec.Points())
        {
            var cfg = p.Config with { Threads = threads, Ranks = 0 };
            if (ExperimentRuns.IsSharing && !ExperimentRuns.Mine()) continue;
            using var unit = ExperimentRuns.Group();
            var (full, test) = load(cfg);
            var (train, val) = RunData.TrainValidation(full, cfg.TrainSamples, cfg.ValidationFraction, new Rng(cfg.Growth.Seed).Fork("split"));
            var rep = ExperimentRuns.Run(cfg, Path.Combine(outDir, p.Folder), train, val, test, log, stop);
            if (rep is null) continue;   // failed (recorded by the sharing)
            results.Add(new SweepResult(p.Index, p.Folder, p.Values.ToDictionary(v => v.Key, v => v.Value), rep.FinalWidths.ToArray(),
                rep.FinalTestAccuracy, rep.FinalTestLoss));
        }
        return results;
    }

    /// <summary>Writes <c>sweep.json</c> and <c>sweep.md</c> into <paramref name="outDir"/>; returns the markdown.</summary>
    public static string Write(SweepSpec spec, IReadOnlyList<SweepResult> results, string outDir)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(results);
        var json = JsonSerializer.Serialize(new { axes = spec.Axes.Select(a => a.Path).ToArray(), points = results }, GrowthRunConfig.JsonOptions);
        RunSession.WriteAtomically(Path.Combine(outDir, "sweep.json"), json);
        var md = new StringBuilder();
        md.AppendLine($"# Sweep: {results.Count} point(s)").AppendLine();
        md.AppendLine("| # | " + string.Join(" | ", spec.Axes.Select(a => a.Path)) + " | final widths | test accuracy | test loss | run folder |");
        md.AppendLine("|---|" + string.Concat(spec.Axes.Select(_ => "---|")) + "---|---|---|---|");
        foreach (var r in results)
            md.AppendLine($"| {r.Index} | " + string.Join(" | ", spec.Axes.Select(a => r.Values.TryGetValue(a.Path, out var v) ? v : "")) +
                          $" | {string.Join("-", r.FinalWidths)} | {Pct(r.FinalTestAccuracy)} | {r.FinalTestLoss.ToString("G5", CultureInfo.InvariantCulture)} | {r.Folder} |");
        RunSession.WriteAtomically(Path.Combine(outDir, "sweep.md"), md.ToString());
        return md.ToString();
    }

    private static string Pct(double v) => double.IsNaN(v) ? "—" : (100 * v).ToString("F2", CultureInfo.InvariantCulture) + " %";
}
