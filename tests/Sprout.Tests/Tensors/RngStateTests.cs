using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Tensors;

public class RngStateTests
{
    [Fact]
    public void ARestoredRngContinuesTheIdenticalStream()
    {
        var rng = new Rng(12345).Fork("shuffle");
        for (int i = 0; i < 17; i++) rng.NextUInt64();
        rng.Normal(); // leaves a spare normal cached
        var state = rng.GetState();
        Assert.True(state.HasSpareNormal);
        var text = state.ToString();
        var back = Rng.FromState(RngState.Parse(text));
        Assert.Equal(state, back.GetState());
        Assert.Equal(rng.Normal(), back.Normal());            // the cached spare
        for (int i = 0; i < 100; i++) Assert.Equal(rng.NextUInt64(), back.NextUInt64());
        Assert.Equal(rng.Fork("x").NextUInt64(), back.Fork("x").NextUInt64()); // forks depend on the seed, restored too
        var other = new Rng(1);
        other.SetState(rng.GetState());
        Assert.Equal(rng.Permutation(50), other.Permutation(50));
    }

    [Fact]
    public void SkipIsDrawingAndDiscarding()
    {
        var a = new Rng(5).Fork("dropout");
        var b = new Rng(5).Fork("dropout");
        a.Normal();   // a spare normal stays cached through a skip, as through draws of words
        b.Normal();
        for (int i = 0; i < 1000; i++) a.NextUInt64();
        b.Skip(1000);
        Assert.Equal(a.GetState(), b.GetState());
        b.Skip(0);
        Assert.Equal(a.GetState(), b.GetState());
        Assert.Equal(a.NextDouble(), b.NextDouble());
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Skip(-1));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1 2 3 4 5")]
    [InlineData("1 2 3 4 5 6 7")]
    [InlineData("zz 2 3 4 5 -")]
    [InlineData("1 0 0 0 0 -")]                    // all-zero xoshiro state
    [InlineData("1 2 3 4 5 7ff0000000000000")]     // infinite spare normal
    [InlineData("1 2 3 4 12345678901234567 -")]    // 17 hex digits
    public void MalformedStatesAreFormatErrors(string text) =>
        Assert.Throws<FormatException>(() => RngState.Parse(text));
}
