using Sprout.Growth;
using Sprout.Training;
using Xunit;
using static Sprout.Tests.Runs.ResumeFixtures;

namespace Sprout.Tests.Growth;

/// <summary>
/// Similarity-guided growth (paper 002) in a growth run: it changes the run when on, leaves it bit for bit as it was
/// when off, acts on MLPs and conv nets on top of any extender, and its config travels through JSON.
/// </summary>
[Collection("Workers")]
public class SimilarityGrowthTests
{
    private static GrowthRunner Run(GrowthRunConfig cfg) => OneThread(() =>
    {
        var (train, val, test) = Spirals;
        var r = new GrowthRunner(cfg);
        r.Run(train, val, test);
        return r;
    });

    private static bool SameWeights(GrowthRunner a, GrowthRunner b)
    {
        var x = GrowthFixtures.Weights(a.Model!);
        var y = GrowthFixtures.Weights(b.Model!);
        return x.Length == y.Length && x.Zip(y).All(p => p.First.AsSpan().SequenceEqual(p.Second));
    }

    private static double MeanAbsCosine(GrowthRunner r, int layer) =>
        SimilarityRegularizer.MeanAbsCosine(r.Model!.Sites[layer].InWeight).Item();

    [Theory]
    [InlineData("swe-plus")]
    [InlineData("net2net")]
    public void OnTopOfAnExtenderTheRegularizerChangesTheRunAndLowersNeuronSimilarity(string extender)
    {
        var off = Mlp(extender) with { Distributor = new FixedConfig([2, 2]) };   // the same widths with and without
        // every step of each stage's training (2 epochs × 8 batches), the cosine term alone, weighted strongly
        var on = off with { Similarity = new SimilarityConfig(Iterations: 16, UseSumRatio: false, Weight: 1) };
        var a = Run(off);
        var b = Run(on);
        Assert.Equal(a.Model!.Widths(), b.Model!.Widths());
        Assert.False(SameWeights(a, b));
        for (int layer = 0; layer < 2; layer++)
            Assert.True(MeanAbsCosine(b, layer) < MeanAbsCosine(a, layer),
                $"layer {layer}: mean |cos| {MeanAbsCosine(a, layer)} without, {MeanAbsCosine(b, layer)} with the regulariser");
    }

    [Fact]
    public void OnAConvNetWithBothTermsTheRunDiffers()
    {
        var off = Conv();
        var a = Run(off);
        var b = Run(off with { Similarity = new SimilarityConfig(Iterations: 3, Lambda: 0.1) });
        Assert.False(SameWeights(a, b));
        Assert.All(GrowthFixtures.Weights(b.Model!), t => Assert.All(t, v => Assert.True(float.IsFinite(v))));
    }

    [Fact]
    public void OffTheRunIsUnchangedBitForBit()
    {
        var off = Mlp("swe-plus");
        Assert.Null(off.Similarity);
        Assert.DoesNotContain("similarity", off.ToJson());   // configs and checkpoints of runs without it are as before
        var a = Run(off);
        // a config whose regulariser adds nothing (weight 0, or both terms switched off) trains the same run
        foreach (var inert in new[] { new SimilarityConfig(Weight: 0), new SimilarityConfig(UseCosine: false, UseSumRatio: false) })
        {
            var b = Run(off with { Similarity = inert });
            Assert.True(SameWeights(a, b));
            Assert.Equal(a.State.Stages.Select(s => s.ValAccuracyEnd), b.State.Stages.Select(s => s.ValAccuracyEnd));
        }
        Assert.Equal(3, a.State.Stages.Count);
    }

    [Fact]
    public void ConfigRoundTripsThroughJson()
    {
        var cfg = Mlp("swe-plus") with { Similarity = new SimilarityConfig(7, UseCosine: false, UseSumRatio: true, Lambda: 0.25, Weight: 0.5, Epsilon: 1e-4, SumPenalty: SumPenalty.SquaredLog) };
        string json = cfg.ToJson();
        Assert.Contains("\"similarity\"", json);
        var back = GrowthRunConfig.FromJson(json);
        Assert.Equal(cfg.Similarity, back.Similarity);
        Assert.Equal(json, back.ToJson());

        // a file naming only some options gets the defaults for the rest
        var node = System.Text.Json.Nodes.JsonNode.Parse(Mlp("swe-plus").ToJson())!;
        node["similarity"] = new System.Text.Json.Nodes.JsonObject { ["iterations"] = 5 };
        Assert.Equal(new SimilarityConfig(Iterations: 5), GrowthRunConfig.FromJson(node.ToJsonString()).Similarity);
    }

    [Theory]
    [InlineData(0, 0.01, 1, 1e-3, "iterations")]
    [InlineData(5, double.NaN, 1, 1e-3, "lambda")]
    [InlineData(5, 0.01, -1, 1e-3, "weight")]
    [InlineData(5, 0.01, 1, 0, "epsilon")]
    public void BadOptionsAreRejected(int iterations, double lambda, double weight, double epsilon, string what)
    {
        var cfg = Mlp("swe-plus") with { Similarity = new SimilarityConfig(iterations, Lambda: lambda, Weight: weight, Epsilon: epsilon) };
        var e = Assert.Throws<ArgumentException>(cfg.Validate);
        Assert.Contains("similarity." + what, e.Message);
    }
}
