using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sprout.Growth;

/// <summary>
/// Serialisable description of an extender (burn style: the config is data, <see cref="Build"/> makes the
/// <see cref="Growth.Extender"/>). JSON carries a <c>"type"</c> discriminator; the types and the named presets are
/// listed in <see cref="GrowthMethods"/>. Each method keeps its config beside its implementation in
/// <c>Growth/Extenders/&lt;Method&gt;/</c>.
/// </summary>
public abstract record ExtenderConfig
{
    /// <summary>
    /// The method's name in reports and in the names of its random streams; null = its type name. A preset carries
    /// its preset name (e.g. "swe-plus"), so a saved config reruns with the same random streams.
    /// </summary>
    [JsonPropertyOrder(-1)]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    /// <summary><see cref="Name"/>, or the registered type name when it is null.</summary>
    [JsonIgnore]
    public string Label => Name ?? GrowthMethods.ExtenderType(GetType());

    /// <summary>Checks the settings; throws <see cref="ArgumentException"/> with the reason.</summary>
    public virtual void Validate()
    {
        if (Name is { Length: 0 or > 100 }) throw new ArgumentException("an extender's name must have 1 to 100 characters");
    }

    /// <summary>Checks the settings and builds the extender.</summary>
    public Extender Build()
    {
        Validate();
        return Create();
    }

    /// <summary>Builds the extender from validated settings.</summary>
    protected abstract Extender Create();

    /// <summary>Indented JSON (the full object form, with its "type").</summary>
    public string ToJson() => JsonSerializer.Serialize(this, GrowthMethods.JsonOptions);

    /// <summary>
    /// Reads a config: a preset name as a JSON string (<c>"swe-plus"</c>) or an object with a <c>"type"</c>.
    /// Throws <see cref="JsonException"/> with the known names on an unknown type or preset.
    /// </summary>
    public static ExtenderConfig FromJson(string json) =>
        GrowthMethods.ReadExtender(json);
}
