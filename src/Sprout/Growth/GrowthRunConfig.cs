using System.Text.Json;
using System.Text.Json.Serialization;
using Sprout.Optim;

namespace Sprout.Growth;

/// <summary>Serialisable description of a whole growth run (an MLP grown in stages).</summary>
/// <param name="Widths">Initial widths: input, hidden…, output.</param>
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
    int DiagnosticBatch = 1000)
{
    /// <summary>Checks the config; throws <see cref="ArgumentException"/> with the reason.</summary>
    public void Validate()
    {
        if (Widths is null || Widths.Count < 3) throw new ArgumentException("widths need input, at least one hidden layer, and output");
        if (Widths.Any(w => w <= 0)) throw new ArgumentException("widths must be positive");
        ArgumentNullException.ThrowIfNull(Schedule);
        Schedule.Validate();
        if (!Growth.Extender.Names.Contains(Extender)) throw new ArgumentException($"unknown extender '{Extender}'");
        if (!Growth.Distributor.Names.Contains(Distributor)) throw new ArgumentException($"unknown distributor '{Distributor}'");
        if (BatchSize <= 0) throw new ArgumentException("batch size must be positive");
        if (!(LearningRate > 0)) throw new ArgumentException("learning rate must be positive");
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
