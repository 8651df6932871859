using Sprout.Growth;
using Xunit;

namespace Sprout.Tests.Growth;

/// <summary>Growth configs with huge or negative sizes fail in Validate with a message naming the field, allocating nothing big.</summary>
public class GrowthConfigValidationTests
{
    private const string Schedule = "\"schedule\":{\"percent\":50,\"stages\":2}";

    [Theory]
    [InlineData("{\"widths\":[784,2147483647,10]," + Schedule + "}", "widths: 2147483647")]
    [InlineData("{\"widths\":[784,16,10]," + Schedule + ",\"diagnosticBatch\":-1}", "diagnosticBatch must be in 1..")]
    [InlineData("{\"widths\":[784,16,10]," + Schedule + ",\"batchSize\":2147483647}", "batchSize 2147483647")]
    [InlineData("{\"widths\":[784,16,10],\"schedule\":{\"percent\":50,\"stages\":2147483647}}", "2147483647 stages")]
    [InlineData("{\"widths\":[784,16,10],\"schedule\":{\"percent\":10000,\"stages\":40}}", "more than the limit of 16,777,216 neurons")]
    [InlineData("{\"widths\":[784,16,10],\"schedule\":{\"totals\":[2147483647,2147483647]}}", "add up to more than")]
    [InlineData("{\"widths\":[784,16,10]," + Schedule + ",\"stageTraining\":{\"epochs\":-1}}", "stageTraining.epochs")]
    [InlineData("{\"widths\":[784,16,10]," + Schedule + ",\"initialTraining\":{\"earlyStopping\":true,\"patience\":0}}", "initialTraining.patience")]
    [InlineData("{\"widths\":[],\"inputShape\":[65536,65536,65536]," + Schedule + ",\"model\":{\"type\":\"sequential\",\"layers\":[{\"type\":\"flatten\"},{\"type\":\"linear\",\"inFeatures\":4,\"outFeatures\":2}]}}", "inputShape")]
    [InlineData("{\"widths\":[],\"inputShape\":[1,28,28]," + Schedule + ",\"model\":{\"type\":\"sequential\",\"layers\":[{\"type\":\"conv2d\",\"inChannels\":1,\"outChannels\":4,\"kernel\":3,\"stride\":2147483647},{\"type\":\"flatten\"},{\"type\":\"linear\",\"inFeatures\":4,\"outFeatures\":2}]}}", "model: layer 0: conv2d: stride 2147483647")]
    [InlineData("{\"widths\":[],\"inputShape\":[1,28,28]," + Schedule + ",\"model\":{\"type\":\"sequential\",\"layers\":[{\"type\":\"conv2d\",\"inChannels\":1,\"outChannels\":4,\"kernel\":3},{\"type\":\"pool\",\"kind\":\"Max\",\"kernel\":2147483647},{\"type\":\"flatten\"},{\"type\":\"linear\",\"inFeatures\":4,\"outFeatures\":2}]}}", "model: layer 1: pool: kernel 2147483647")]
    [InlineData("{\"widths\":[],\"inputShape\":[1,28,28]," + Schedule + ",\"model\":{\"type\":\"sequential\",\"layers\":[{\"type\":\"conv2d\",\"inChannels\":1,\"outChannels\":4,\"kernel\":3},{\"type\":\"flatten\"},{\"type\":\"linear\",\"inFeatures\":100,\"outFeatures\":2}]}}", "model: layer 2: linear: expects 100 input features")]
    public void AbsurdSizesNameTheField(string json, string message)
    {
        var cfg = GrowthRunConfig.FromJson(json);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ArgumentException>(() => cfg.Validate());
        Assert.Contains(message, e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, "validation allocated");
        Assert.Throws<ArgumentException>(() => new GrowthRunner(cfg));
    }

    [Fact]
    public void TheDefaultAndThePaperConfigsStayValid()
    {
        new GrowthRunConfig([784, 16, 16, 10], GrowthSchedule.FromPercent(50, 4)).Validate();
        new GrowthRunConfig([], GrowthSchedule.FromTotals(4, 4), Model: Sprout.Nn.Models.SweBackbone(10, [8], inChannels: 1, imageSize: 28),
            InputShape: [1, 28, 28]).Validate();
        Assert.Equal(3, GrowthSchedule.FromPercent(50, 2).TotalFor(0, 6));
        Assert.Throws<ArgumentException>(() => GrowthSchedule.FromPercent(10000, 1).TotalFor(0, int.MaxValue));
    }
}
