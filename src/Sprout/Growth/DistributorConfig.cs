using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sprout.Growth;

/// <summary>
/// Serialisable description of a distributor (burn style: the config is data, <see cref="Build"/> makes the
/// <see cref="Growth.Distributor"/>). JSON carries a <c>"type"</c> discriminator; the types and the named presets are
/// listed in <see cref="GrowthMethods"/>. Each method keeps its config beside its implementation in
/// <c>Growth/Distributors/&lt;Method&gt;/</c>.
/// </summary>
public abstract record DistributorConfig
{
    /// <summary>The method's name in reports; null = its type name. A preset carries its preset name (e.g. "svod-topn").</summary>
    [JsonPropertyOrder(-1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    /// <summary><see cref="Name"/>, or the registered type name when it is null.</summary>
    [JsonIgnore]
    public string Label => Name ?? GrowthMethods.DistributorType(GetType());

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> with the reason.</summary>
    public virtual void Validate()
    {
        if (Name is { Length: 0 or > 100 }) throw new ArgumentException("a distributor's name must have 1 to 100 characters");
    }

    /// <summary>Checks the settings and builds the distributor.</summary>
    public Distributor Build()
    {
        Validate();
        return Create();
    }

    /// <summary>Builds the distributor from validated settings.</summary>
    protected abstract Distributor Create();

    /// <summary>Indented JSON (the full object form, with its "type").</summary>
    public string ToJson() => JsonSerializer.Serialize(this, GrowthMethods.JsonOptions);

    /// <summary>
    /// Reads a config: a preset name as a JSON string (<c>"svod"</c>) or an object with a <c>"type"</c>.
    /// Throws <see cref="JsonException"/> with the known names on an unknown type or preset.
    /// </summary>
    public static DistributorConfig FromJson(string json) =>
        GrowthMethods.ReadDistributor(json);
}
