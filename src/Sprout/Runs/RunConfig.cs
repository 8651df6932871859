using System.Text.Json;
using Sprout.Growth;

namespace Sprout.Runs;

/// <summary>
/// Everything a run needs besides the data files: saved as the run folder's config.json, fully resolved, so
/// rerunning it (or resuming it) reproduces the run.
/// </summary>
/// <param name="Command">The command that made the run ("run", "grow", "train").</param>
/// <param name="Name">Short name, the last part of the folder name.</param>
/// <param name="Dataset">Data set name (see <see cref="RunData.Names"/>).</param>
/// <param name="Growth">The network, its training and its growth.</param>
/// <param name="TrainSamples">Training samples used (a stratified subset; 0 = all).</param>
/// <param name="ValidationFraction">Share of the training samples held out for validation.</param>
/// <param name="Threads">Worker threads (results are bit-identical for the same thread count).</param>
/// <param name="InputScaling">How pixels become features (standardised by default; not written then).</param>
/// <param name="Pad">Black pixels added on every side of every image before anything else (0, the default: none; not
/// written then), e.g. 2 to run 28×28 images through a 32×32 network.</param>
/// <param name="Ranks">Processes of a data-parallel run (<c>mpiexec -n N … --data-parallel</c>), 0 for one process (the
/// default; not written then). Like <paramref name="Threads"/>, it fixes the order of sums, so the bits of the result.</param>
public sealed record RunConfig(string Command, string Name, string Dataset, GrowthRunConfig Growth,
    int TrainSamples = 0, double ValidationFraction = 0.1, int Threads = 1,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    InputScaling InputScaling = InputScaling.Standardize,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    int Pad = 0,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    int Ranks = 0)
{
    /// <summary>Checks the config; throws <see cref="ArgumentException"/> naming the field.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name) || Name.Length > 64 || Name.Any(ch => !(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' or '.')))
            throw new ArgumentException($"run name '{Name}' must be 1–64 letters, digits, '-', '_' or '.'");
        if (!RunData.Names.Contains(Dataset)) throw new ArgumentException($"unknown data set '{Dataset}' (known: {string.Join(", ", RunData.Names)})");
        ArgumentNullException.ThrowIfNull(Growth);
        Growth.Validate();
        if (Pad is < 0 or > Data.Dataset.MaxPad) throw new ArgumentException($"pad must be in 0..{Data.Dataset.MaxPad} pixels, got {Pad}");
        if (Growth.InputSize != RunData.Features(Dataset, Pad))
            throw new ArgumentException($"the network's input has {Growth.InputSize} features, {Dataset} has {RunData.Features(Dataset, Pad)}");
        if (TrainSamples < 0) throw new ArgumentException("trainSamples must be ≥ 0");
        if (!(ValidationFraction > 0 && ValidationFraction < 1)) throw new ArgumentException($"validationFraction must be in (0, 1), got {ValidationFraction}");
        if (Threads is < 1 or > 256) throw new ArgumentException($"threads must be in [1, 256], got {Threads}");
        if (Ranks is < 0 or 1 or > 1_000_000) throw new ArgumentException($"ranks must be 0 (one process) or in [2, 1000000], got {Ranks}");
        if (!Enum.IsDefined(InputScaling)) throw new ArgumentException($"unknown input scaling {(int)InputScaling}");
    }

    /// <summary>Indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, GrowthRunConfig.JsonOptions);

    /// <summary>Reads a run config (throws <see cref="JsonException"/> or <see cref="ArgumentException"/> on bad input).</summary>
    public static RunConfig FromJson(string json)
    {
        var c = JsonSerializer.Deserialize<RunConfig>(json, GrowthRunConfig.JsonOptions) ?? throw new JsonException("empty run config");
        c.Validate();
        return c;
    }
}
