using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Sprout.Cli;

/// <summary>
/// Builders for typed, validated System.CommandLine options. A bad value is a parse error whose one-line message names
/// the option, the accepted values and what was given (e.g. <c>--stages must be an integer from 1 to 100, got 'x'</c>);
/// <see cref="Cli.Run"/> prints it as <c>sprout: error: …</c> and exits with 2.
/// </summary>
internal static class Opt
{
    /// <summary>A flag (present or absent).</summary>
    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>A free-form string (a path, a name), null when absent.</summary>
    public static Option<string?> Text(string name, string helpName, string description) =>
        new(name) { Description = description, HelpName = helpName };

    /// <summary>An integer in [min, max] with a default.</summary>
    public static Option<int> Int(string name, string description, int dflt, int min, int max, string helpName = "N") =>
        new(name)
        {
            Description = description, HelpName = helpName, DefaultValueFactory = _ => dflt,
            CustomParser = r => ParseInt(r, min, max) ?? default,
        };

    /// <summary>An integer in [min, max], null when absent (the command picks a default that depends on other options).</summary>
    public static Option<int?> IntOrNull(string name, string description, int min, int max, string helpName = "N") =>
        new(name) { Description = description, HelpName = helpName, CustomParser = r => ParseInt(r, min, max) };

    /// <summary>A finite number in [min, max] with a default.</summary>
    public static Option<double> Double(string name, string description, double dflt, double min, double max, string helpName = "X") =>
        new(name)
        {
            Description = description, HelpName = helpName, DefaultValueFactory = _ => dflt,
            CustomParser = r =>
            {
                string s = Token(r);
                if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= min && v <= max) return v;
                r.AddError($"{NameOf(r)} must be a number {Range(min, max)}, got '{s}'");
                return default;
            },
        };

    /// <summary>One of a fixed set of words (exact match; <paramref name="aliases"/> map other spellings onto them).</summary>
    public static Option<string> Choice(string name, string description, string? dflt, IReadOnlyList<string> values,
        IReadOnlyDictionary<string, string>? aliases = null)
    {
        // a short list of words is the value's name in the usage (--scale <quick|paper>); a long one goes in the description
        string words = string.Join('|', values);
        var o = new Option<string>(name)
        {
            Description = words.Length <= 30 ? description : $"{description}: {Alternatives(values)}",
            HelpName = words.Length <= 30 ? words : "NAME",
            CustomParser = r =>
            {
                string s = Token(r);
                if (values.Contains(s)) return s;
                if (aliases is not null && aliases.TryGetValue(s, out var canonical)) return canonical;
                r.AddError($"{NameOf(r)} must be {Alternatives(values)}, got '{s}'");
                return null!;
            },
        };
        if (dflt is not null) o.DefaultValueFactory = _ => dflt;
        o.CompletionSources.Add(values.ToArray());
        return o;
    }

    /// <summary>One value of an enum, written in lower case (<c>keep</c>, <c>warm</c>, …); null when absent.</summary>
    public static Option<T?> Enum<T>(string name, string description) where T : struct, System.Enum
    {
        var names = System.Enum.GetNames<T>().Select(n => n.ToLowerInvariant()).ToArray();
        var o = new Option<T?>(name)
        {
            Description = description, HelpName = string.Join('|', names),
            CustomParser = r =>
            {
                string s = Token(r);
                int i = Array.IndexOf(names, s.ToLowerInvariant());
                if (i >= 0) return System.Enum.GetValues<T>()[i];
                r.AddError($"{NameOf(r)} must be {Alternatives(names)}, got '{s}'");
                return null;
            },
        };
        o.CompletionSources.Add(names);
        return o;
    }

    /// <summary>
    /// A list parsed item by item, its items separated by <paramref name="separators"/> (default: commas);
    /// <paramref name="parse"/> returns null and sets its error text for a bad item. Null when absent.
    /// </summary>
    public static Option<T[]?> List<T>(string name, string helpName, string description, Func<string, (T? Value, string? Error)> parse,
        params char[] separators) =>
        new(name)
        {
            Description = description, HelpName = helpName, Arity = ArgumentArity.ExactlyOne,
            CustomParser = r =>
            {
                string s = Token(r);
                var items = s.Split(separators.Length > 0 ? separators : [','], StringSplitOptions.TrimEntries);
                var result = new T[items.Length];
                for (int i = 0; i < items.Length; i++)
                {
                    var (v, error) = parse(items[i]);
                    if (error is not null || v is null)
                    {
                        r.AddError($"{NameOf(r)}: {error ?? $"bad item '{items[i]}'"}");
                        return null;
                    }
                    result[i] = v;
                }
                return result;
            },
        };

    /// <summary>
    /// The value of <paramref name="option"/> when it was given on the command line, else null: System.CommandLine reads
    /// an absent array-valued option as an empty array, which would silently replace a command's default list.
    /// </summary>
    public static T? Given<T>(this ParseResult parse, Option<T?> option) where T : class =>
        parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option) : null;

    /// <summary>Parses layer widths written W0-W1-… (two or more, each in 1..<paramref name="maxWidth"/>).</summary>
    public static (int[]? Widths, string? Error) ParseWidths(string spec, int maxWidth = 1 << 20)
    {
        var w = spec.Split('-').Select(x => IntItem(x, 1, maxWidth)).ToArray();
        return w.Length >= 2 && w.All(x => x.Error is null)
            ? (w.Select(x => x.Value).ToArray(), null)
            : (null, $"takes two or more positive layer widths like 784-120-10, got '{spec}'");
    }

    /// <summary>Parses one list item as an integer in [min, max].</summary>
    public static (int Value, string? Error) IntItem(string s, int min, int max) =>
        int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max
            ? (v, null) : (0, $"'{s}' is not an integer {Range(min, max)}");

    /// <summary>"a, b or c".</summary>
    public static string Alternatives(IReadOnlyList<string> values) =>
        values.Count == 1 ? values[0] : string.Join(", ", values.Take(values.Count - 1)) + " or " + values[^1];

    /// <summary>The option's name (e.g. <c>--stages</c>) inside a parser or validator.</summary>
    public static string NameOf(ArgumentResult r) => r.Parent is OptionResult o ? o.Option.Name : r.Argument.Name;

    /// <summary>The option's single token.</summary>
    public static string Token(ArgumentResult r) => r.Tokens.Count > 0 ? r.Tokens[0].Value : "";

    private static int? ParseInt(ArgumentResult r, int min, int max)
    {
        string s = Token(r);
        if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v >= min && v <= max) return v;
        r.AddError($"{NameOf(r)} must be an integer {Range(min, max)}, got '{s}'");
        return null;
    }

    private static string Range(double min, double max) => (min, max) switch
    {
        (_, int.MaxValue or double.MaxValue) => string.Create(CultureInfo.InvariantCulture, $"of at least {min}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"from {min} to {max}"),
    };
}
