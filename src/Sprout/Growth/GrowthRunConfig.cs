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
/// <param name="Extender">How new neurons are initialised (null = the "swe" preset). JSON: a preset name
/// (<c>"swe-plus"</c>, see <see cref="GrowthMethods.ExtenderPresets"/>) or a config object with a "type"; always
/// written as the full object, so a saved config reruns the same method even if a preset changes later.</param>
/// <param name="Distributor">How a stage's neurons are split over the layers (null = the "svod" preset); JSON as for
/// <paramref name="Extender"/>.</param>
/// <param name="InitialTraining">Training of the initial network before the first stage.</param>
/// <param name="StageTraining">Training after each insertion.</param>
/// <param name="BatchSize">Training mini-batch size.</param>
/// <param name="LearningRate">The optimizer's learning rate.</param>
/// <param name="Seed">Seed of everything (init, shuffling, growth).</param>
/// <param name="OptimizerOnGrowth">Keep (embed) or reset optimizer state of grown parameters.</param>
/// <param name="DiagnosticBatch">Samples in the batch used for max |output change| at insertion.</param>
/// <param name="Model">A network to grow instead of an MLP (its growable layers are found automatically).</param>
/// <param name="InputShape">Shape of one input sample for <paramref name="Model"/> (e.g. [1, 28, 28]); default flat.</param>
/// <param name="WeightDecay">Weight decay of the training optimizer: decoupled with Adam (AdamW; 0 = plain Adam), L2
/// (added to the gradient) with <see cref="TrainingOptimizer.AdamL2"/> and SGD.</param>
/// <param name="Similarity">Similarity-guided growth (paper 002) on top of the extender: a regulariser added to the
/// training loss for the first steps after each growth step (null = off, the default; not written when null).</param>
/// <param name="Task">Classification (cross-entropy on labels, the default; not written then) or reconstruction (the
/// input is its own target, MSE; the network's output must have the input's size).</param>
/// <param name="LinearOnly">Only Linear layers grow: a conv backbone keeps its size, its MLP head grows (false, the
/// default, grows every growable layer; not written then).</param>
/// <param name="Optimizer">The training optimizer: Adam (the default; not written then), Adam with L2 weight decay, or SGD.</param>
/// <param name="Momentum">SGD momentum (0, the default, is plain SGD; not written then); only with
/// <paramref name="Optimizer"/> = SGD.</param>
/// <param name="Augmentation">Training-time image augmentation of every training phase (null, the default: none; not
/// written then); needs image inputs (<paramref name="InputShape"/> [C, H, W]).</param>
/// <param name="LearningRateSchedule">How the learning rate moves over the run's epochs (the initial phase and every stage
/// counted in turn; null, the default: constant; not written then) — e.g. paper 002's cosine decay over 250 epochs.</param>
/// <param name="LastStageTraining">Training after the last insertion (null, the default: <paramref name="StageTraining"/>;
/// not written then). The SWE authors' script ends its last stage with a longer patience (30 instead of 20).</param>
public sealed record GrowthRunConfig(
    [property: JsonPropertyOrder(-4)] IReadOnlyList<int> Widths,
    [property: JsonPropertyOrder(-3)] GrowthSchedule Schedule,
    ExtenderConfig? Extender = null,
    DistributorConfig? Distributor = null,
    StageTraining? InitialTraining = null,
    StageTraining? StageTraining = null,
    int BatchSize = 100,
    double LearningRate = 1e-3,
    ulong Seed = 0,
    GrowthStatePolicy OptimizerOnGrowth = GrowthStatePolicy.Keep,
    int DiagnosticBatch = 1000,
    Nn.SequentialConfig? Model = null,
    IReadOnlyList<int>? InputShape = null,
    double WeightDecay = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] SimilarityConfig? Similarity = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] GrowthTask Task = GrowthTask.Classification,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool LinearOnly = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] TrainingOptimizer Optimizer = TrainingOptimizer.Adam,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] double Momentum = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] StageTraining? LastStageTraining = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Data.AugmentationConfig? Augmentation = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] LrScheduleConfig? LearningRateSchedule = null)
{
    /// <summary>The training of stage <paramref name="stage"/> (0-based): <see cref="LastStageTraining"/> for the
    /// schedule's last stage when set, else <see cref="StageTraining"/> (5 epochs when that is null too).</summary>
    public StageTraining StageTrainingFor(int stage) =>
        stage == Schedule.Count - 1 && LastStageTraining is { } last ? last : StageTraining ?? new StageTraining(5);

    /// <summary>The extender's config.</summary>
    [JsonPropertyOrder(-2), JsonConverter(typeof(GrowthMethods.ExtenderJsonConverter))]
    public ExtenderConfig Extender { get; init; } = Extender ?? GrowthMethods.Extender("swe");

    /// <summary>The distributor's config.</summary>
    [JsonPropertyOrder(-1), JsonConverter(typeof(GrowthMethods.DistributorJsonConverter))]
    public DistributorConfig Distributor { get; init; } = Distributor ?? GrowthMethods.Distributor("svod");

    // Config files written before the methods became configs named a preset and overrode its options in these
    // fields; they are read (applied to the preset named beside them, as before) and never written.
    [JsonInclude, JsonPropertyName("swe"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    private SweOptions? LegacySwe
    {
        get => null;
        init { if (value is not null && Extender is SweConfig swe) Extender = swe with { Options = value }; }
    }

    [JsonInclude, JsonPropertyName("svod"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    private SvodOptions? LegacySvod
    {
        get => null;
        init { if (value is not null && Distributor is SvodConfig svod) Distributor = svod with { Options = value }; }
    }

    [JsonInclude, JsonPropertyName("fixedCounts"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    private IReadOnlyList<int>? LegacyFixedCounts
    {
        get => null;
        init { if (value is not null && Distributor is FixedConfig fixedConfig) Distributor = fixedConfig with { Counts = value }; }
    }

    /// <summary>Most neurons of one layer, and most samples of a batch or a diagnostic batch: 2²⁴ and 2²⁰.</summary>
    public const int MaxWidth = 1 << 24, MaxBatch = 1 << 20;

    /// <summary>Number of input features the data must have (checked: <see cref="Validate"/> bounds the product).</summary>
    public int InputSize => InputShape is { Count: > 0 } ? InputShape.Aggregate(1, (a, b) => checked(a * b)) : Widths is { Count: > 0 } ? Widths[0] : 0;
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
        if (Extender is null) throw new ArgumentException("the config has no extender");
        if (Distributor is null) throw new ArgumentException("the config has no distributor");
        Extender.Validate();
        Distributor.Validate();
        Similarity?.Validate();
        if (BatchSize <= 0) throw new ArgumentException("batch size must be positive");
        if (!(LearningRate > 0)) throw new ArgumentException("learning rate must be positive");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentException("weight decay must be a finite number ≥ 0");
        if (!Enum.IsDefined(Task)) throw new ArgumentException($"unknown task {(int)Task}");
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"unknown optimizer {(int)Optimizer}");
        if (!(Momentum >= 0 && Momentum < 1)) throw new ArgumentException($"momentum must be in [0, 1), got {Momentum}");
        if (Momentum != 0 && Optimizer != TrainingOptimizer.Sgd) throw new ArgumentException("momentum is an SGD setting; Adam has none");
        ValidateSizes();
    }

    /// <summary>
    /// Every size against sane limits with checked arithmetic, before anything is built: the network (each layer's
    /// tensors, the input fitting it), batch sizes, epochs, and the widths the schedule grows to.
    /// </summary>
    private void ValidateSizes()
    {
        if (Model is null && Widths.Any(w => w > MaxWidth)) throw new ArgumentException($"widths: {Widths.Max()} is more than the limit of {MaxWidth:N0} neurons per layer");
        if (InputShape is { Count: > 0 } shape)
        {
            if (shape.Count > 3) throw new ArgumentException($"inputShape has {shape.Count} dimensions; one sample is [features] or [channels, height, width]");
            const long cap = Nn.ModuleConfig.MaxTensorElements;
            if (shape.Aggregate(1L, (a, b) => a > cap / b ? cap + 1 : a * b) > cap)
                throw new ArgumentException($"inputShape [{string.Join(", ", shape)}] has more than {Nn.ModuleConfig.MaxTensorElements:N0} features");
        }
        var model = Model ?? Nn.SequentialConfig.Mlp(Widths, Nn.ActivationConfig.Relu);
        try
        {
            model.Validate();
            var output = model.OutputShape(InputShape is { Count: > 0 } s ? s : [InputSize]);
            long outputs = output.Aggregate(1L, (a, b) => a * b);
            if (Task == GrowthTask.Reconstruction && outputs != InputSize)
                throw new ArgumentException($"a reconstruction network's output must have the input's {InputSize} features, it has {outputs}");
        }
        catch (ArgumentException e) { throw new ArgumentException((Model is null ? "widths: " : "model: ") + e.Message, e); }
        if (BatchSize > MaxBatch) throw new ArgumentException($"batchSize {BatchSize} is more than the limit of {MaxBatch:N0}");
        if (DiagnosticBatch < 1 || DiagnosticBatch > MaxBatch) throw new ArgumentException($"diagnosticBatch must be in 1..{MaxBatch:N0}, got {DiagnosticBatch}");
        InitialTraining?.Validate("initialTraining");
        StageTraining?.Validate("stageTraining");
        LastStageTraining?.Validate("lastStageTraining");
        LearningRateSchedule?.Validate();
        if (Augmentation is { } aug)
        {
            aug.Validate();
            if (!aug.IsIdentity && InputShape is not { Count: 3 })
                throw new ArgumentException("augmentation needs image inputs: set inputShape to [channels, height, width]");
        }
        // hidden width: every Linear or Conv2d output but the last (the network's output)
        var producers = model.Layers.Select(l => l switch { Nn.LinearConfig li => li.OutFeatures, Nn.Conv2dConfig c => LinearOnly ? 0 : c.OutChannels, _ => -1 })
            .Where(w => w >= 0).ToArray();
        Schedule.ValidateGrowth(producers.Length > 1 ? producers[..^1].Sum(w => (long)w) : 0);
    }

    /// <summary>Indented JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a config from JSON (throws <see cref="JsonException"/> on anything that is not one).</summary>
    public static GrowthRunConfig FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize<GrowthRunConfig>(json, JsonOptions) ?? throw new JsonException("empty growth config");
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            throw new JsonException("not a growth config: " + Nn.ModuleConfig.OneLine(e.Message), e);
        }
        catch (JsonException e) when (e.Message.Contains('\n') || e.Message.Length > 400)
        {
            throw new JsonException(Nn.ModuleConfig.OneLine(e.Message), e.Path, e.LineNumber, e.BytePositionInLine, e);
        }
    }

    /// <summary>
    /// Reads a config file: a regular UTF-8 file of at most 16 MiB (see <see cref="Tensors.SafeFile"/>; otherwise an
    /// <see cref="ArgumentException"/> naming the file), parsed with <see cref="FromJson"/>.
    /// </summary>
    public static GrowthRunConfig FromFile(string path) =>
        FromJson(Tensors.SafeFile.ReadAllText(path, 16L << 20, problem => new ArgumentException($"config file {path}: {problem}")));

    /// <summary>Options used for growth JSON (camelCase, enums as strings, method configs by "type"): <see cref="GrowthMethods.JsonOptions"/>.</summary>
    public static JsonSerializerOptions JsonOptions => GrowthMethods.JsonOptions;
}
