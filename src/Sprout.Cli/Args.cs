using System.Globalization;

namespace Sprout.Cli;

/// <summary>Raised for a bad command line; printed as one line.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Minimal option parser: positionals, --name value, --flag. Unknown options are errors.</summary>
internal sealed class Args
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public List<string> Positionals { get; } = new();

    public Args(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a == "--") { Positionals.Add(a); continue; }
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (!flags.Contains(name))
            {
                if (i + 1 >= list.Count) throw new UsageException($"option --{name} needs a value");
                value = list[++i];
            }
            _options[name] = value;
        }
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        return _options.ContainsKey(name);
    }

    public string? String(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out var v) ? v : null;
    }

    public int Int(string name, int dflt, int min = int.MinValue, int max = int.MaxValue)
    {
        var s = String(name);
        if (s is null) return dflt;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new UsageException($"--{name} must be an integer in [{min}, {max}], got '{s}'");
        return v;
    }

    public double Double(string name, double dflt, double min = double.MinValue, double max = double.MaxValue)
    {
        var s = String(name);
        if (s is null) return dflt;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v >= min && v <= max))
            throw new UsageException($"--{name} must be a number in [{min}, {max}], got '{s}'");
        return v;
    }

    public ulong Seed(ulong dflt = 0)
    {
        var s = String("seed");
        if (s is null) return dflt;
        if (!ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong v))
            throw new UsageException($"--seed must be a non-negative integer, got '{s}'");
        return v;
    }

    /// <summary>Fails on any option that no one asked about (typos).</summary>
    public void RejectUnknown()
    {
        foreach (var k in _options.Keys)
            if (!_used.Contains(k)) throw new UsageException($"unknown option --{k}");
    }
}
