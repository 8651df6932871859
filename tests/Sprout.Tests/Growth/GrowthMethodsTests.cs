using System.Text.Json;
using Sprout.Growth;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Growth;

/// <summary>A test-only extender: Kaiming-normal incoming weights scaled by a factor, zero outgoing weights.</summary>
public sealed record ScaledKaimingConfig(double Scale = 1) : ExtenderConfig
{
    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (!(Scale > 0)) throw new ArgumentException("scale must be positive");
    }

    /// <inheritdoc/>
    protected override Extender Create() => new ScaledKaimingExtender(Scale, Label);
}

internal sealed class ScaledKaimingExtender(double scale, string name) : Extender
{
    public override string Name => name;

    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng)
    {
        var site = ctx.Model.Sites[siteIndex];
        int old = site.Width;
        int first = site.Grow(count);
        InitIncoming(site, first, count, Sprout.Nn.InitScheme.KaimingNormal, defaultBias: false, rng);
        var w = site.InWeight.Span[(first * site.FanIn)..];
        for (int i = 0; i < w.Length; i++) w[i] *= (float)scale;
        return new SiteExtension(site.Name, old, count);
    }
}

[Collection("Workers")]
public class GrowthMethodsTests
{
    // the one registration a new method needs (here from outside the library)
    static GrowthMethodsTests() =>
        GrowthMethods.RegisterExtender("test-scaled-kaiming", ("test-scaled-kaiming-half", new ScaledKaimingConfig(0.5)));

    private static readonly string[] CliExtenders = ["swe", "swe-reference", "swe-plus", "swe-plus-frozen", "swe-plus-shrink", "random", "kaiming", "frobenius"];
    private static readonly string[] CliDistributors = ["svod", "svod-topn", "ras", "fixed"];

    public static TheoryData<string> ExtenderPresets => new(CliExtenders);

    public static TheoryData<string> DistributorPresets => new(CliDistributors);

    [Fact]
    public void TheCliNamesArePresetsInTheirOrder()
    {
        Assert.Equal(CliExtenders, GrowthMethods.ExtenderPresets.Take(8));
        Assert.Equal(CliDistributors, GrowthMethods.DistributorPresets.Take(4));
        Assert.Equal(["swe", "random", "kaiming", "frobenius"], GrowthMethods.ExtenderTypes.Take(4));
        Assert.Equal(["svod", "ras", "fixed"], GrowthMethods.DistributorTypes.Take(3));
        Assert.Equal(GrowthMethods.ExtenderPresets, Extender.Names);   // the old name lists are the registry's
        Assert.Equal(GrowthMethods.DistributorPresets, Distributor.Names);
    }

    [Theory]
    [MemberData(nameof(ExtenderPresets))]
    public void EveryExtenderPresetRoundTripsThroughJsonAndBuildsTheSameExtender(string name)
    {
        var cfg = GrowthMethods.Extender(name);
        string json = cfg.ToJson();
        var back = ExtenderConfig.FromJson(json);
        Assert.Equal(cfg, back);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(name, cfg.Label);              // the preset's name is its label and names its random streams
        var (a, b) = (cfg.Build(), back.Build());
        Assert.Equal(a.GetType(), b.GetType());
        Assert.Equal(name, a.Name);
        Assert.Equal(name, b.Name);
        if (a is SharedWeightsExtender sa)
        {
            Assert.Equal(sa.Options, ((SharedWeightsExtender)b).Options);
            Assert.Contains("\"type\": \"swe\"", json);
        }
        // a preset name string reads as the preset itself
        Assert.Equal(cfg, ExtenderConfig.FromJson(JsonSerializer.Serialize(name)));
    }

    [Theory]
    [MemberData(nameof(DistributorPresets))]
    public void EveryDistributorPresetRoundTripsThroughJsonAndBuildsTheSameDistributor(string name)
    {
        var cfg = GrowthMethods.Distributor(name);
        string json = cfg.ToJson();
        var back = DistributorConfig.FromJson(json);
        Assert.Equal(cfg, back);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(name, cfg.Label);
        Assert.Equal(cfg, DistributorConfig.FromJson(JsonSerializer.Serialize(name)));
        if (cfg is FixedConfig f)
        {
            // the preset has no counts: it cannot build, and says what it needs
            Assert.Contains("counts", Assert.Throws<ArgumentException>(() => cfg.Build()).Message);
            cfg = f with { Counts = [2, 0, 1] };
            back = DistributorConfig.FromJson(cfg.ToJson());
            Assert.Equal(cfg, back);
        }
        var (a, b) = (cfg.Build(), back.Build());
        Assert.Equal(a.GetType(), b.GetType());
        Assert.Equal(name, a.Name);
        if (a is SteepestVotingDistributor sa) Assert.Equal(sa.Options, ((SteepestVotingDistributor)b).Options);
    }

    [Fact]
    public void ARunConfigWithPresetNamesLoadsAndIsWrittenInFull()
    {
        var cfg = GrowthRunConfig.FromJson("""
            {"widths": [2, 4, 2], "schedule": {"percent": 50, "stages": 1}, "extender": "swe-plus", "distributor": "svod-topn"}
            """);
        Assert.Equal(GrowthMethods.Extender("swe-plus"), cfg.Extender);
        Assert.Equal(GrowthMethods.Distributor("svod-topn"), cfg.Distributor);
        Assert.Equal(SweOptions.Plus, ((SweConfig)cfg.Extender).Options);
        string json = cfg.ToJson();
        Assert.DoesNotContain("\"extender\": \"", json);
        Assert.Contains("\"recoverTolerance\": 0.2", json);   // the options are written, not the name
        Assert.Equal(cfg, GrowthRunConfig.FromJson(json) with { Widths = cfg.Widths, Schedule = cfg.Schedule });
        // no method given: the old defaults
        var bare = GrowthRunConfig.FromJson("""{"widths": [2, 4, 2], "schedule": {"totals": [1]}}""");
        Assert.Equal(GrowthMethods.Extender("swe"), bare.Extender);
        Assert.Equal(GrowthMethods.Distributor("svod"), bare.Distributor);
    }

    [Fact]
    public void FullObjectsMayBePartialFlatOfOptionsAndHaveTheirTypeAnywhere()
    {
        var cfg = GrowthRunConfig.FromJson("""
            {"widths": [2, 4, 2], "schedule": {"totals": [1]},
             "extender": {"options": {"adjustSteps": 7, "topFirst": true}, "type": "swe", "name": "my-swe"},
             "distributor": {"counts": [3], "type": "fixed"}}
            """);
        var swe = Assert.IsType<SweConfig>(cfg.Extender);
        Assert.Equal(SweOptions.Paper with { AdjustSteps = 7, TopFirst = true }, swe.Options);   // the rest: the paper's defaults
        Assert.Equal("my-swe", swe.Build().Name);
        Assert.Equal(new FixedConfig([3]), cfg.Distributor);
    }

    [Fact]
    public void OldConfigFilesKeepWorking()
    {
        // before methods were configs: a name plus per-method override fields (null when unused)
        var cfg = GrowthRunConfig.FromJson("""
            {"widths": [2, 4, 2], "schedule": {"totals": [1]}, "extender": "swe-reference", "distributor": "fixed",
             "swe": {"adjustSteps": 3, "batchSize": 20}, "svod": null, "fixedCounts": [2]}
            """);
        Assert.Equal(new SweConfig(new SweOptions(AdjustSteps: 3, BatchSize: 20)) { Name = "swe-reference" }, cfg.Extender);
        Assert.Equal(new FixedConfig([2]), cfg.Distributor);
        var svod = GrowthRunConfig.FromJson("""
            {"widths": [2, 4, 2], "schedule": {"totals": [1]}, "extender": "kaiming", "distributor": "svod-topn",
             "swe": {"adjustSteps": 3}, "svod": {"batchSize": 10}, "fixedCounts": null}
            """);
        Assert.Equal(new KaimingConfig(), svod.Extender);   // SWE options beside another extender were ignored, as before
        Assert.Equal(new SvodConfig(new SvodOptions(BatchSize: 10)) { Name = "svod-topn" }, svod.Distributor);
        Assert.DoesNotContain("fixedCounts", cfg.ToJson());

        var example = GrowthRunConfig.FromJson(File.ReadAllText(Path.Combine(RepoRoot(), "docs", "examples", "grow-cnn-mnist.json")));
        example.Validate();
        Assert.Equal(GrowthMethods.Extender("swe-plus"), example.Extender);
        Assert.Equal(GrowthMethods.Distributor("svod"), example.Distributor);
    }

    [Fact]
    public void UnknownNamesAndTypesSayWhatIsKnown()
    {
        var e = Assert.Throws<ArgumentException>(() => GrowthMethods.Extender("swe-pluss"));
        Assert.Contains("unknown extender 'swe-pluss'", e.Message);
        Assert.Contains("swe-plus-frozen", e.Message);
        Assert.Contains("svod-topn", Assert.Throws<ArgumentException>(() => GrowthMethods.Distributor("nope")).Message);
        Assert.Contains("frobenius", Assert.Throws<ArgumentException>(() => Extender.Create("nope")).Message);

        static string Bad(string method) => $$"""{"widths": [2, 4, 2], "schedule": {"totals": [1]}, {{method}}}""";
        var j = Assert.Throws<JsonException>(() => GrowthRunConfig.FromJson(Bad("\"extender\": \"nope\"")));
        Assert.Contains("unknown extender 'nope' (known: swe, swe-reference", j.Message);
        j = Assert.Throws<JsonException>(() => GrowthRunConfig.FromJson(Bad("\"extender\": {\"type\": \"nope\"}")));
        Assert.Contains("unknown extender type 'nope' (known types: swe, random, kaiming, frobenius", j.Message);
        j = Assert.Throws<JsonException>(() => GrowthRunConfig.FromJson(Bad("\"distributor\": {\"options\": {}}")));
        Assert.Contains("a distributor config needs a \"type\"", j.Message);
        j = Assert.Throws<JsonException>(() => GrowthRunConfig.FromJson(Bad("\"distributor\": 5")));
        Assert.Contains("preset name or an object", j.Message);
        Assert.Throws<JsonException>(() => ExtenderConfig.FromJson("{\"type\": \"swe\", \"options\": {\"adjustSteps\": \"many\"}}"));
        Assert.Throws<JsonException>(() => DistributorConfig.FromJson("null"));
    }

    [Fact]
    public void AbsurdOptionsAreRejectedBeforeAnythingRuns()
    {
        var cfg = GrowthRunConfig.FromJson("""
            {"widths": [2, 4, 2], "schedule": {"totals": [1]}, "extender": {"type": "swe", "options": {"batchSize": 2147483647}}}
            """);
        Assert.Contains("batch size", Assert.Throws<ArgumentException>(cfg.Validate).Message);
        Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg with { Extender = new SweConfig(SweOptions.Plus with { DeadCheckSamples = -1 }) }));
        Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg with { Extender = new KaimingConfig(), Distributor = new SvodConfig(new SvodOptions(ProbesPerLayer: int.MaxValue)) }));
        Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg with { Extender = new KaimingConfig(), Distributor = new FixedConfig([int.MaxValue]) }));
        Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg with { Extender = new KaimingConfig(), Distributor = new FixedConfig([-1]) }));
    }

    [Fact]
    public void ACustomExtenderRegisteredOnceRoundTripsThroughARunConfigAndRuns()
    {
        var cfg = new GrowthRunConfig([2, 4, 4, 2], GrowthSchedule.FromTotals(2), new ScaledKaimingConfig(0.25), new RasConfig(),
            new StageTraining(1), new StageTraining(1), BatchSize: 50, Seed: 3, DiagnosticBatch: 50);
        string json = cfg.ToJson();
        Assert.Contains("\"type\": \"test-scaled-kaiming\"", json);
        Assert.Contains("\"scale\": 0.25", json);
        var back = GrowthRunConfig.FromJson(json);
        Assert.Equal(new ScaledKaimingConfig(0.25), back.Extender);
        Assert.Equal(json, back.ToJson());
        // its preset is a name like the built-in ones
        var half = GrowthRunConfig.FromJson("""{"widths": [2, 4, 2], "schedule": {"totals": [1]}, "extender": "test-scaled-kaiming-half"}""");
        Assert.Equal(new ScaledKaimingConfig(0.5) { Name = "test-scaled-kaiming-half" }, half.Extender);
        Assert.Contains("test-scaled-kaiming-half", GrowthMethods.ExtenderPresets);

        var train = GrowthFixtures.Spirals(200, 1);
        var runner = new GrowthRunner(back);
        var report = runner.Run(train, train);
        Assert.Equal([5, 5], report.FinalWidths);   // 2 neurons over 2 layers (RAS)
        // the new neurons got the scaled Kaiming weights and zero outgoing weights before training: output unchanged
        Assert.Equal(0, report.Stages[0].MaxOutputChange);

        // registering again is harmless; another type under a taken name is not
        GrowthMethods.RegisterExtender("test-scaled-kaiming", ("test-scaled-kaiming-half", new ScaledKaimingConfig(0.5)));
        Assert.Throws<ArgumentException>(() => GrowthMethods.RegisterExtender("swe", ("x", new ScaledKaimingConfig())));
        Assert.Throws<ArgumentException>(() => GrowthMethods.RegisterExtender("test-scaled-kaiming", ("swe-plus", new ScaledKaimingConfig())));
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Sprout.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("repository root (Sprout.slnx) not found above " + AppContext.BaseDirectory);
    }
}
