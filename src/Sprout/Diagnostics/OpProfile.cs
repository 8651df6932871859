using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Sprout.Diagnostics;

/// <summary>Accumulated time and call count per named section (ops, layers, phases).</summary>
public sealed class OpProfile : Sprout.Autograd.IOpProfiler
{
    private readonly Dictionary<string, (long Ticks, long Calls)> _entries = new(StringComparer.Ordinal);

    /// <summary>Adds elapsed Stopwatch ticks to a section.</summary>
    public void Add(string name, long ticks)
    {
        _entries.TryGetValue(name, out var e);
        _entries[name] = (e.Ticks + ticks, e.Calls + 1);
    }

    /// <summary>Forgets everything.</summary>
    public void Clear() => _entries.Clear();

    /// <summary>Sections by total time, descending: name, seconds, calls.</summary>
    public IEnumerable<(string Name, double Seconds, long Calls)> Entries() =>
        _entries.OrderByDescending(e => e.Value.Ticks)
            .Select(e => (e.Key, e.Value.Ticks / (double)Stopwatch.Frequency, e.Value.Calls));

    /// <summary>A table of µs per unit (e.g. per step) and share of the total.</summary>
    public string Format(long units)
    {
        var list = Entries().ToList();
        double total = list.Sum(e => e.Seconds);
        var sb = new StringBuilder();
        foreach (var (name, sec, calls) in list)
            sb.AppendLine(CultureInfo.InvariantCulture, $"{name,-28} {sec / units * 1e6,9:F1} µs {sec / total * 100,5:F1}%  ({calls / (double)units:F1} calls)");
        return sb.ToString();
    }
}
