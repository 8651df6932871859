using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Sprout.Growth;

/// <summary>
/// The one list of growth methods: every extender and distributor config type with its JSON <c>"type"</c> name, and
/// the named presets (the names the CLI accepts). Adding a method is one folder (its config record and its
/// implementation, e.g. <c>Growth/Extenders/Swe/</c>) and one registration in the static constructor below — or, from
/// outside the library, one call to <see cref="RegisterExtender{TConfig}"/> / <see cref="RegisterDistributor{TConfig}"/>.
/// The registrations feed a <see cref="JsonTypeInfoResolver"/> modifier, so <see cref="JsonOptions"/> reads and writes
/// every registered config polymorphically.
/// </summary>
public static class GrowthMethods
{
    private static readonly Registry<ExtenderConfig> Extenders = new("extender", c => c.Name, (c, name) => c with { Name = name });
    private static readonly Registry<DistributorConfig> Distributors = new("distributor", c => c.Name, (c, name) => c with { Name = name });
    private static JsonSerializerOptions? _jsonOptions;

    static GrowthMethods()
    {
        // type name, config type and presets; a preset's config carries the preset's name (see ExtenderConfig.Name)
        RegisterExtender("swe",
            ("swe", new SweConfig(SweOptions.Paper)),
            ("swe-reference", new SweConfig(SweOptions.Reference)),
            ("swe-plus", new SweConfig(SweOptions.Plus)),
            ("swe-plus-frozen", new SweConfig(SweOptions.PlusFrozen)),
            ("swe-plus-shrink", new SweConfig(SweOptions.PlusShrink)));
        RegisterExtender("random", ("random", new RandomConfig()));
        RegisterExtender("kaiming", ("kaiming", new KaimingConfig()));
        RegisterExtender("frobenius", ("frobenius", new FrobeniusConfig()));
        RegisterExtender("net2net", ("net2net", new Net2NetConfig()), ("net2net-noise", new Net2NetConfig(Noise: 0.01)));
        RegisterExtender("gradmax", ("gradmax", new GradMaxConfig()));
        RegisterExtender("firefly", ("firefly", new FireflyConfig(FireflyOptions.Paper)), ("firefly-reference", new FireflyConfig(FireflyOptions.Reference)));
        RegisterExtender("tiny", ("tiny", new TinyConfig()));
        RegisterExtender("ssd", ("ssd", new SsdConfig()), ("ssd-fast", new SsdConfig(SsdVariant.Fast)));

        RegisterDistributor("svod",
            ("svod", new SvodConfig(SvodOptions.Paper)),
            ("svod-topn", new SvodConfig(SvodOptions.TopN)));
        RegisterDistributor("ras", ("ras", new RasConfig()));
        RegisterDistributor("fixed", ("fixed", new FixedConfig()));
        RegisterDistributor("firefly", ("firefly", new FireflyDistributorConfig(FireflyOptions.Paper)),
            ("firefly-reference", new FireflyDistributorConfig(FireflyOptions.Reference)));
        RegisterDistributor("ssd", ("ssd", new SsdDistributorConfig()), ("ssd-fast", new SsdDistributorConfig(SsdVariant.Fast)));
    }

    /// <summary>Names of the extender presets, in registration order (for help and error messages).</summary>
    public static IReadOnlyList<string> ExtenderPresets => Extenders.PresetNames();

    /// <summary>Names of the distributor presets, in registration order.</summary>
    public static IReadOnlyList<string> DistributorPresets => Distributors.PresetNames();

    /// <summary>The registered extender <c>"type"</c> names.</summary>
    public static IReadOnlyList<string> ExtenderTypes => Extenders.TypeNames();

    /// <summary>The registered distributor <c>"type"</c> names.</summary>
    public static IReadOnlyList<string> DistributorTypes => Distributors.TypeNames();

    /// <summary>The config of an extender preset (e.g. "swe-plus"); <see cref="ArgumentException"/> listing the known names otherwise.</summary>
    public static ExtenderConfig Extender(string preset) => Extenders.Preset(preset);

    /// <summary>The config of a distributor preset (e.g. "svod-topn"); <see cref="ArgumentException"/> listing the known names otherwise.</summary>
    public static DistributorConfig Distributor(string preset) => Distributors.Preset(preset);

    /// <summary>The <c>"type"</c> name an extender config type is registered under.</summary>
    public static string ExtenderType(Type configType) => Extenders.TypeName(configType);

    /// <summary>The <c>"type"</c> name a distributor config type is registered under.</summary>
    public static string DistributorType(Type configType) => Distributors.TypeName(configType);

    /// <summary>
    /// Registers an extender config type under a <c>"type"</c> name, with its presets. Registering the same type
    /// again under the same name only adds presets; a name taken by another type throws <see cref="ArgumentException"/>.
    /// </summary>
    public static void RegisterExtender<TConfig>(string type, params (string Name, TConfig Config)[] presets) where TConfig : ExtenderConfig
    {
        Extenders.Register(type, typeof(TConfig), presets.Select(p => (p.Name, (ExtenderConfig)p.Config)));
        _jsonOptions = null;
    }

    /// <summary>Registers a distributor config type under a <c>"type"</c> name, with its presets (see <see cref="RegisterExtender{TConfig}"/>).</summary>
    public static void RegisterDistributor<TConfig>(string type, params (string Name, TConfig Config)[] presets) where TConfig : DistributorConfig
    {
        Distributors.Register(type, typeof(TConfig), presets.Select(p => (p.Name, (DistributorConfig)p.Config)));
        _jsonOptions = null;
    }

    /// <summary>
    /// JSON options for growth configs and reports: camelCase, enums as strings, NaN/Infinity allowed, and every
    /// registered method config read and written with its <c>"type"</c> (which may stand anywhere in the object).
    /// Rebuilt after a registration; options taken earlier keep the methods registered then.
    /// </summary>
    public static JsonSerializerOptions JsonOptions => Volatile.Read(ref _jsonOptions) ?? BuildOptions();

    /// <summary>Reads an extender config from JSON: a preset name string or an object with a <c>"type"</c>.</summary>
    public static ExtenderConfig ReadExtender(string json) => Extenders.Read(json);

    /// <summary>Reads a distributor config from JSON: a preset name string or an object with a <c>"type"</c>.</summary>
    public static DistributorConfig ReadDistributor(string json) => Distributors.Read(json);

    private static JsonSerializerOptions BuildOptions()
    {
        var extenders = Extenders.DerivedTypes();
        var distributors = Distributors.DerivedTypes();
        var resolver = new DefaultJsonTypeInfoResolver();
        resolver.Modifiers.Add(info =>
        {
            var derived = info.Type == typeof(ExtenderConfig) ? extenders : info.Type == typeof(DistributorConfig) ? distributors : null;
            if (derived is null) return;
            info.PolymorphismOptions = new JsonPolymorphismOptions
            {
                TypeDiscriminatorPropertyName = "type",
                UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization,
            };
            foreach (var d in derived) info.PolymorphismOptions.DerivedTypes.Add(d);
        });
        var options = new JsonSerializerOptions
        {
            WriteIndented = true,
            Converters = { new JsonStringEnumConverter() },
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            AllowOutOfOrderMetadataProperties = true,
            TypeInfoResolver = resolver,
        };
        options.MakeReadOnly();
        Volatile.Write(ref _jsonOptions, options);
        return options;
    }

    /// <summary>
    /// JSON converter for an <see cref="ExtenderConfig"/> property: reads a preset name or an object with a
    /// <c>"type"</c> (unknown names give a <see cref="JsonException"/> listing the known ones), writes the full object.
    /// </summary>
    public sealed class ExtenderJsonConverter : JsonConverter<ExtenderConfig>
    {
        /// <inheritdoc/>
        public override ExtenderConfig? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var doc = JsonDocument.ParseValue(ref reader);
            return Extenders.Read(doc.RootElement);
        }

        /// <inheritdoc/>
        public override void Write(Utf8JsonWriter writer, ExtenderConfig value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, value, JsonOptions);
    }

    /// <summary>JSON converter for a <see cref="DistributorConfig"/> property (see <see cref="ExtenderJsonConverter"/>).</summary>
    public sealed class DistributorJsonConverter : JsonConverter<DistributorConfig>
    {
        /// <inheritdoc/>
        public override DistributorConfig? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            using var doc = JsonDocument.ParseValue(ref reader);
            return Distributors.Read(doc.RootElement);
        }

        /// <inheritdoc/>
        public override void Write(Utf8JsonWriter writer, DistributorConfig value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, value, JsonOptions);
    }

    /// <summary>Config types by "type" name and presets by name, for one kind of method.</summary>
    private sealed class Registry<TBase>(string kind, Func<TBase, string?> nameOf, Func<TBase, string, TBase> withName) where TBase : class
    {
        private readonly Lock _lock = new();
        private readonly List<(string Name, Type Type)> _types = new();
        private readonly List<(string Name, TBase Config)> _presets = new();

        public void Register(string type, Type configType, IEnumerable<(string Name, TBase Config)> presets)
        {
            CheckName(type);
            if (configType.IsAbstract) throw new ArgumentException($"{kind} config type {configType.Name} is abstract");
            var list = new List<(string Name, TBase Config)>();
            foreach (var (name, config) in presets)
            {
                CheckName(name);
                ArgumentNullException.ThrowIfNull(config);
                if (config.GetType() != configType) throw new ArgumentException($"{kind} preset '{name}' is a {config.GetType().Name}, not a {configType.Name}");
                // a preset other than the plain type carries its own name (its label and the name of its random streams)
                list.Add((name, name != type && nameOf(config) is null ? withName(config, name) : config));
            }
            lock (_lock)
            {
                int at = _types.FindIndex(t => t.Name == type);
                if (at >= 0 && _types[at].Type != configType)
                    throw new ArgumentException($"{kind} type '{type}' is already registered for {_types[at].Type.Name}");
                int byType = _types.FindIndex(t => t.Type == configType);
                if (byType >= 0 && _types[byType].Name != type)
                    throw new ArgumentException($"{configType.Name} is already registered as {kind} type '{_types[byType].Name}'");
                foreach (var (name, config) in list)
                {
                    int p = _presets.FindIndex(x => x.Name == name);
                    if (p >= 0 && !_presets[p].Config.Equals(config)) throw new ArgumentException($"{kind} preset '{name}' is already registered");
                }
                if (at < 0) _types.Add((type, configType));
                foreach (var preset in list)
                    if (_presets.FindIndex(x => x.Name == preset.Name) < 0) _presets.Add(preset);
            }
        }

        public TBase Preset(string name)
        {
            ArgumentNullException.ThrowIfNull(name);
            lock (_lock)
            {
                foreach (var p in _presets)
                    if (p.Name == name) return p.Config;
            }
            throw new ArgumentException($"unknown {kind} '{name}' (known: {string.Join(", ", PresetNames())})");
        }

        public IReadOnlyList<string> PresetNames()
        {
            lock (_lock) return _presets.Select(p => p.Name).ToArray();
        }

        public IReadOnlyList<string> TypeNames()
        {
            lock (_lock) return _types.Select(t => t.Name).ToArray();
        }

        public string TypeName(Type configType)
        {
            lock (_lock)
            {
                foreach (var t in _types)
                    if (t.Type == configType) return t.Name;
            }
            throw new ArgumentException($"{configType.Name} is not a registered {kind} config type (see GrowthMethods)");
        }

        public JsonDerivedType[] DerivedTypes()
        {
            lock (_lock) return _types.Select(t => new JsonDerivedType(t.Type, t.Name)).ToArray();
        }

        public TBase Read(string json)
        {
            ArgumentNullException.ThrowIfNull(json);
            using var doc = JsonDocument.Parse(json);
            return Read(doc.RootElement) ?? throw new JsonException($"empty {kind} config");
        }

        public TBase? Read(JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Null:
                    return null;
                case JsonValueKind.String:
                    string name = e.GetString()!;
                    lock (_lock)
                    {
                        foreach (var p in _presets)
                            if (p.Name == name) return p.Config;
                    }
                    throw new JsonException($"unknown {kind} '{name}' (known: {string.Join(", ", PresetNames())})");
                case JsonValueKind.Object:
                    if (!e.TryGetProperty("type", out var t) || t.ValueKind != JsonValueKind.String)
                        throw new JsonException($"a {kind} config needs a \"type\" ({string.Join(", ", TypeNames())}), or is a preset name ({string.Join(", ", PresetNames())})");
                    string type = t.GetString()!;
                    if (!TypeNames().Contains(type))
                        throw new JsonException($"unknown {kind} type '{type}' (known types: {string.Join(", ", TypeNames())}; presets: {string.Join(", ", PresetNames())})");
                    return e.Deserialize<TBase>(JsonOptions) ?? throw new JsonException($"empty {kind} config");
                default:
                    throw new JsonException($"a {kind} config is a preset name or an object with a \"type\", not a JSON {e.ValueKind.ToString().ToLowerInvariant()}");
            }
        }

        private void CheckName(string name)
        {
            if (string.IsNullOrEmpty(name) || name.Length > 100 || name.Any(char.IsWhiteSpace))
                throw new ArgumentException($"{kind} names must be 1 to 100 characters without spaces, got '{name}'");
        }
    }
}
