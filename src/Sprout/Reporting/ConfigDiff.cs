using System.Text.Json.Nodes;

namespace Sprout.Reporting;

/// <summary>Where JSON configs differ: every leaf as a path ("growth.extender.type") and its JSON text.</summary>
internal static class ConfigDiff
{
    /// <summary>The leaves of <paramref name="node"/>, by path (array items as [i]).</summary>
    public static Dictionary<string, string> Flatten(JsonNode? node)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        Walk(node, "", d, 0);
        return d;
    }

    private static void Walk(JsonNode? node, string path, Dictionary<string, string> d, int depth)
    {
        if (depth > 64 || d.Count > 10_000) return;
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o) Walk(v, path.Length == 0 ? k : path + "." + k, d, depth + 1);
                if (o.Count == 0) d[path] = "{}";
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++) Walk(a[i], $"{path}[{i}]", d, depth + 1);
                if (a.Count == 0) d[path] = "[]";
                break;
            default:
                d[path] = node?.ToJsonString() ?? "null";
                break;
        }
    }

    /// <summary>The paths whose values differ between the configs (missing counts as a value), in first-seen order.</summary>
    public static IReadOnlyList<string> DifferingPaths(IReadOnlyList<Dictionary<string, string>> configs)
    {
        var paths = configs.SelectMany(c => c.Keys).Distinct().ToArray();
        return paths.Where(p => configs.Select(c => c.GetValueOrDefault(p)).Distinct().Count() > 1).ToArray();
    }
}
