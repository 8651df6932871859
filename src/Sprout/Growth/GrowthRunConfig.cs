using System.Text.Json;
using System.Text.Json.Serialization;
using Sprout.Optim;

namespace Sprout.Growth;

/// <summary>
/// Serialisable description of a whole growth run: an MLP given by its widths, or any sequential network given by
/// <paramref name="Model"/> (e.g. a conv net), grown in stages.
/// </summary>
/// <param name="Widths">Initial MLP widths: input, hidden…, output (ignored, and may be empty, when Model is set).</param>
/// <param name="Schedule">Neurons added per stage.</param>
/// <param name="Extender">Extender name (see <see cref="Growth.Extender.Names"/>).</param>
/// <param name="Distributor">Distributor name (see <see cref="Growth.Distributor.Names"/>).</param>
/// <param name="InitialTraining">Training of the initial network before the first stage.</param>
/// <param name="StageTraining">Training after each insertion.</param>
/// <param name="Swe">SWE options overriding the extender's preset, or null.</param>
/// <param name="Svod">SVoD options overriding the distributor's preset, or null.</param>
/// <param name="FixedCounts">Per-layer counts for the fixed distributor.</param>
/// <param name="BatchSize">Training mini-batch size.</param>
/// <param name="LearningRate">Adam learning rate.</param>
/// <param name="Seed">Seed of everything (init, shuffling, growth).</param>
/// <param name="OptimizerOnGrowth">Keep (embed) or reset optimizer state of grown parameters.</param>
/// <param name="DiagnosticBatch">Samples in the batch used for max |output change| at insertion.</param>
/// <param name="Model">A network to grow instead of an MLP (its growable layers are found automatically).</param>
/// <param name="InputShape">Shape of one input sample for <paramref name="Model"/> (e.g. [1, 28, 28]); default flat.</param>
/// <param name="WeightDecay">Decoupled weight decay of the training optimizer (AdamW; 0 = plain Adam).</param>
public sealed record GrowthRunConfig(
    IReadOnlyList<int> Widths,
    GrowthSchedule Schedule,
    string Extender = "swe",
    string Distributor = "svod",
    StageTraining? InitialTraining = null,
    StageTraining? StageTraining = null,
    SweOptions? Swe = null,
    SvodOptions? Svod = null,
    IReadOnlyList<int>? FixedCounts = null,
    int BatchSize = 100,
    double LearningRate = 1e-3,
    ulong Seed = 0,
    GrowthStatePolicy OptimizerOnGrowth = GrowthStatePolicy.Keep,
    int DiagnosticBatch = 1000,
    Nn.SequentialConfig? Model = null,
    IReadOnlyList<int>? InputShape = null,
    double WeightDecay = 0)
{
    /// <summary>Number of input features the data must have.</summary>
    public int InputSize => InputShape is { Count: > 0 } ? InputShape.Aggregate(1, (a, b) => a * b) : Widths.Count > 0 ? Widths[0] : 0;
    /// <summary>Checks the config; throws <see cref="ArgumentException"/> with the reason.</summary>
    public void Validate()
    {
        if (Model is null)
        {
            if (Widths is null || Widths.Count < 3) throw new ArgumentException("widths need input, at least one hidden layer, and output");
            if (Widths.Any(w => w <= 0)) throw new ArgumentException("widths must be positive");
        }
        else if (InputShape is { Count: > 0 } && InputShape.Any(d => d <= 0)) throw new ArgumentException("input shape must be positive");
        if (Model is not null && InputShape is null && (Widths is null || Widths.Count == 0))
            throw new ArgumentException("a model config needs inputShape (or widths[0] for flat input)");
        ArgumentNullException.ThrowIfNull(Schedule);
        Schedule.Validate();
        if (!Growth.Extender.Names.Contains(Extender)) throw new ArgumentException($"unknown extender '{Extender}'");
        if (!Growth.Distributor.Names.Contains(Distributor)) throw new ArgumentException($"unknown distributor '{Distributor}'");
        if (BatchSize <= 0) throw new ArgumentException("batch size must be positive");
        if (!(LearningRate > 0)) throw new ArgumentException("learning rate must be positive");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentException("weight decay must be a finite number ≥ 0");
    }

    /// <summary>Indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a config from JSON.</summary>
    public static GrowthRunConfig FromJson(string json) =>
        JsonSerializer.Deserialize<GrowthRunConfig>(json, JsonOptions) ?? throw new JsonException("empty growth config");

    /// <summary>Options used for growth JSON (camelCase, enums as strings).</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
