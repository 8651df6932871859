using System.Text.Json;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Sprout.Training;
using Xunit;

namespace Sprout.Tests.Growth;

[Collection("Workers")]
public class Net2NetTests
{
    [Fact]
    public void WideningAnMlpWithoutNoiseKeepsItsOutputs()
    {
        var model = GrowthFixtures.Mlp(8, 6, 10, 10, 3);
        var data = GrowthFixtures.Random(200, 6, 3, 8);
        var x = Tensor.Uniform(new Rng(4), -2, 2, 100, 6);
        var before = model.Logits(x);
        // 25 new neurons over 10 old ones: several neurons are copied more than once
        var rep = Extender.Create("net2net").Extend(new GrowthContext(model, data, new Rng(3)), [7, 25]);
        Assert.Equal([17, 35], model.Widths());
        Assert.Equal(25, rep[1].Added);
        Assert.Equal(10, rep[1].OldWidth);
        Assert.True(GrowthFixtures.RelativeMaxDiff(before, model.Logits(x)) < 1e-5);
        // every new neuron is an exact copy (incoming and bias) of an old one, sharing its outgoing weights
        for (int s = 0; s < 2; s++)
        {
            var site = model.Sites[s];
            const int old = 10;
            for (int j = old; j < site.Width; j++)
            {
                int src = Enumerable.Range(0, old).Single(i => GrowthFixtures.Incoming(site, i).SequenceEqual(GrowthFixtures.Incoming(site, j)));
                Assert.Equal(site.GetBias(src), site.GetBias(j));
                Assert.Equal(GrowthFixtures.Outgoing(site, src), GrowthFixtures.Outgoing(site, j));
            }
        }
    }

    [Fact]
    public void WideningAConvNetWithBatchNormInEvalModeKeepsItsOutputs()
    {
        // non-trivial γ, β and running statistics, so copying them matters
        var (m, x) = GrowthFixtures.BackboneWithNormState(5, 6);
        var before = m.Logits(x);   // eval mode: running statistics
        var data = new InMemoryDataset(x.ToArray(), new int[8], 3 * 8 * 8);
        Extender.Create("net2net").Extend(new GrowthContext(m, data, new Rng(7)), [3, 5, 9, 4]);
        Assert.Equal([7, 9, 15, 9], m.Widths());
        Assert.True(GrowthFixtures.RelativeMaxDiff(before, m.Logits(x)) < 1e-5);

        // the copies carry their source's BatchNorm state; the conv → Flatten → Linear site's blocks were divided too
        foreach (int s in new[] { 0, 2 })
        {
            var site = m.Sites[s];
            int old = s == 0 ? 4 : 6;
            var norm = site.Norm!;
            var copies = new int[old];
            var src = new int[site.Width - old];
            for (int j = old; j < site.Width; j++)
            {
                src[j - old] = Enumerable.Range(0, old).Single(i => GrowthFixtures.Incoming(site, i).SequenceEqual(GrowthFixtures.Incoming(site, j)));
                copies[src[j - old]]++;
            }
            for (int j = old; j < site.Width; j++)
            {
                int i = src[j - old];
                Assert.Equal(norm.Gamma![i], norm.Gamma[j]);
                Assert.Equal(norm.Beta![i], norm.Beta[j]);
                Assert.Equal(norm.RunningMean![i], norm.RunningMean[j]);
                Assert.Equal(norm.RunningVar![i], norm.RunningVar[j]);
                Assert.NotEqual(1f, norm.RunningVar[j]);   // not the identity a plain Grow gives
                Assert.Equal(GrowthFixtures.Outgoing(site, i), GrowthFixtures.Outgoing(site, j));
            }
        }
    }

    [Fact]
    public void OneNeuronCopiedSeveralTimesSharesItsOutgoingWeightsByItsCopyCount()
    {
        var model = GrowthFixtures.Mlp(11, 4, 5, 3);
        var site = model.Sites[0];
        var outBefore = Enumerable.Range(0, 5).Select(i => GrowthFixtures.Outgoing(site, i)).ToArray();
        var inBefore = Enumerable.Range(0, 5).Select(i => GrowthFixtures.Incoming(site, i)).ToArray();
        var biasBefore = Enumerable.Range(0, 5).Select(site.GetBias).ToArray();
        int first = Net2NetExtender.Widen(site, [1, 3, 1, 1], 0, new Rng(1));
        Assert.Equal(5, first);
        Assert.Equal(9, site.Width);
        // neuron 1: itself + three copies → ÷4; neuron 3: itself + one copy → ÷2; the others untouched
        int[] count = [1, 4, 1, 2, 1];
        for (int i = 0; i < 5; i++)
        {
            var expected = outBefore[i].Select(v => v / count[i]).ToArray();
            Assert.Equal(expected, GrowthFixtures.Outgoing(site, i));
            Assert.Equal(inBefore[i], GrowthFixtures.Incoming(site, i));
        }
        int[] sources = [1, 3, 1, 1];
        for (int k = 0; k < 4; k++)
        {
            int j = 5 + k, i = sources[k];
            Assert.Equal(inBefore[i], GrowthFixtures.Incoming(site, j));
            Assert.Equal(biasBefore[i], site.GetBias(j));
            Assert.Equal(outBefore[i].Select(v => v / count[i]).ToArray(), GrowthFixtures.Outgoing(site, j));
        }
        // the copies' outgoing weights sum back to the original's
        for (int t = 0; t < site.FanOut; t++)
        {
            float sum = GrowthFixtures.Outgoing(site, 1)[t] + GrowthFixtures.Outgoing(site, 5)[t] + GrowthFixtures.Outgoing(site, 7)[t] + GrowthFixtures.Outgoing(site, 8)[t];
            Assert.Equal(outBefore[1][t], sum, 5);
        }
    }

    [Fact]
    public void NoiseBreaksTheSymmetryAndChangesTheFunction()
    {
        var model = GrowthFixtures.Mlp(8, 6, 10, 10, 3);
        var site = model.Sites[0];
        var all = site.InWeight.ToArray();
        double mean = all.Average(v => (double)v);
        double std = Math.Sqrt(all.Sum(v => (v - mean) * (v - mean)) / all.Length);
        var inBefore = Enumerable.Range(0, 10).Select(i => GrowthFixtures.Incoming(site, i)).ToArray();
        Net2NetExtender.Widen(site, [2, 2, 7], 0.01, new Rng(9));
        int[] sources = [2, 2, 7];
        var diffs = new List<double>();
        for (int k = 0; k < 3; k++)
        {
            var w = GrowthFixtures.Incoming(site, 10 + k);
            Assert.NotEqual(inBefore[sources[k]], w);
            diffs.AddRange(w.Select((v, t) => (double)v - inBefore[sources[k]][t]));
        }
        Assert.NotEqual(GrowthFixtures.Incoming(site, 10), GrowthFixtures.Incoming(site, 11));   // two copies of one neuron differ from each other
        // the noise is small: its std is about 0.01 of the layer's weight std
        double noiseStd = Math.Sqrt(diffs.Sum(d => d * d) / diffs.Count);
        Assert.InRange(noiseStd, 0.003 * std, 0.03 * std);
        for (int i = 0; i < 10; i++) Assert.Equal(inBefore[i], GrowthFixtures.Incoming(site, i));   // originals keep their weights

        // through the preset: the function changes, a little
        var m2 = GrowthFixtures.Mlp(8, 6, 10, 10, 3);
        var data = GrowthFixtures.Random(50, 6, 3, 8);
        var x = Tensor.Uniform(new Rng(4), -2, 2, 100, 6);
        var before = m2.Logits(x);
        Extender.Create("net2net-noise").Extend(new GrowthContext(m2, data, new Rng(3)), [10, 10]);
        double rel = GrowthFixtures.RelativeMaxDiff(before, m2.Logits(x));
        Assert.True(rel > 1e-5, $"noise left the outputs unchanged ({rel})");
        Assert.True(rel < 0.1, $"noise of 1% of the weight std moved the outputs by {rel}");
    }

    [Fact]
    public void TheMappingIsSeededRandomWithReplacementOrCyclic()
    {
        var a = Net2NetExtender.Mapping(4, 40, true, new Rng(5));
        Assert.Equal(a, Net2NetExtender.Mapping(4, 40, true, new Rng(5)));
        Assert.NotEqual(a, Net2NetExtender.Mapping(4, 40, true, new Rng(6)));
        Assert.All(a, g => Assert.InRange(g, 0, 3));
        Assert.Equal(4, a.Distinct().Count());
        Assert.Equal([0, 1, 2, 0, 1, 2, 0], Net2NetExtender.Mapping(3, 7, false, new Rng(5)));
        Assert.Throws<ArgumentException>(() => Net2NetExtender.Mapping(0, 2, true, new Rng(5)));

        // same seed, same model → bit-identical widening
        float[][] Run()
        {
            var m = GrowthFixtures.Mlp(8, 6, 10, 10, 3);
            Extender.Create("net2net-noise").Extend(new GrowthContext(m, GrowthFixtures.Random(20, 6, 3, 8), new Rng(3)), [4, 6]);
            return GrowthFixtures.Weights(m);
        }
        GrowthFixtures.AssertBitIdentical(Run(), Run());
    }

    [Fact]
    public void CyclicMappingKeepsTheFunctionToo()
    {
        var model = GrowthFixtures.Mlp(8, 6, 10, 3);
        var data = GrowthFixtures.Random(20, 6, 3, 8);
        var x = Tensor.Uniform(new Rng(4), -2, 2, 50, 6);
        var before = model.Logits(x);
        var site = model.Sites[0];
        var outBefore = Enumerable.Range(0, 10).Select(i => GrowthFixtures.Outgoing(site, i)).ToArray();
        new Net2NetConfig(RandomMapping: false).Build().Extend(new GrowthContext(model, data, new Rng(3)), [13]);
        Assert.True(GrowthFixtures.RelativeMaxDiff(before, model.Logits(x)) < 1e-5);
        // 13 new over 10 old: sources 0…9, 0, 1, 2 → neurons 0–2 are shared three ways, 3–9 two ways
        for (int j = 10; j < 23; j++) Assert.Equal(GrowthFixtures.Incoming(site, (j - 10) % 10), GrowthFixtures.Incoming(site, j));
        for (int i = 0; i < 10; i++)
            Assert.Equal(outBefore[i].Select(v => v / (i < 3 ? 3 : 2)).ToArray(), GrowthFixtures.Outgoing(site, i));
    }

    [Theory]
    [InlineData("net2net")]
    [InlineData("net2net-noise")]
    public void ThePresetsRoundTripThroughJson(string name)
    {
        Assert.Contains(name, GrowthMethods.ExtenderPresets);
        Assert.Contains("net2net", GrowthMethods.ExtenderTypes);
        var cfg = GrowthMethods.Extender(name);
        string json = cfg.ToJson();
        Assert.Contains("\"type\": \"net2net\"", json);
        var back = ExtenderConfig.FromJson(json);
        Assert.Equal(cfg, back);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(name, cfg.Label);
        var (a, b) = ((Net2NetExtender)cfg.Build(), (Net2NetExtender)back.Build());
        Assert.Equal(name, a.Name);
        Assert.Equal(name, b.Name);
        Assert.Equal(a.Noise, b.Noise);
        Assert.Equal(name == "net2net" ? 0 : 0.01, a.Noise);
        Assert.True(a.RandomMapping);
        Assert.Equal(cfg, ExtenderConfig.FromJson(JsonSerializer.Serialize(name)));
    }

    [Fact]
    public void FullObjectsTakeDefaultsAndAbsurdNoiseIsRejected()
    {
        var c = (Net2NetConfig)ExtenderConfig.FromJson("{\"randomMapping\": false, \"type\": \"net2net\"}");
        Assert.Equal(new Net2NetConfig(0, false), c);
        c = (Net2NetConfig)ExtenderConfig.FromJson("{\"type\": \"net2net\", \"noise\": 0.05}");
        Assert.Equal(0.05, c.Noise);
        Assert.True(c.RandomMapping);
        Assert.Contains("noise", Assert.Throws<ArgumentException>(() => new Net2NetConfig(-0.1).Build()).Message);
        Assert.Throws<ArgumentException>(() => new Net2NetConfig(double.NaN).Build());
        Assert.Throws<ArgumentException>(() => new Net2NetConfig(1e6).Build());
    }
}
