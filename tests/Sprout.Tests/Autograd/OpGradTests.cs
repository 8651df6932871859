using Sprout.Autograd;
using Xunit;
using static Sprout.Tests.Autograd.GradCheck;

namespace Sprout.Tests.Autograd;

/// <summary>Every op: forward against the double reference and a finite-difference gradient check.</summary>
public class OpGradTests
{
    public static TheoryData<int[], int[]> BroadcastPairs => new()
    {
        { new[] { 3, 4 }, new[] { 3, 4 } },
        { new[] { 5, 3 }, new[] { 3 } },            // bias row
        { new[] { 2, 3, 2, 2 }, new[] { 1, 3, 1, 1 } }, // per channel
        { new[] { 4, 1 }, new[] { 1, 5 } },          // outer product shape
        { new[] { 2, 3 }, new[] { 1 } },             // scalar
        { new[] { 1 }, new[] { 2, 3 } },
        { new[] { 2, 1, 3 }, new[] { 4, 1 } },
    };

    [Theory, MemberData(nameof(BroadcastPairs))]
    public void Add(int[] a, int[] b) => Check(t => Ops.Add(t[0], t[1]), d => Ref.Binary(d[0], d[1], (x, y) => x + y), 1, a, b);

    [Theory, MemberData(nameof(BroadcastPairs))]
    public void Sub(int[] a, int[] b) => Check(t => Ops.Sub(t[0], t[1]), d => Ref.Binary(d[0], d[1], (x, y) => x - y), 2, a, b);

    [Theory, MemberData(nameof(BroadcastPairs))]
    public void Mul(int[] a, int[] b) => Check(t => Ops.Mul(t[0], t[1]), d => Ref.Binary(d[0], d[1], (x, y) => x * y), 3, a, b);

    [Theory, MemberData(nameof(BroadcastPairs))]
    public void Div(int[] a, int[] b) =>
        Check(t => Ops.Div(t[0], t[1]), d => Ref.Binary(d[0], d[1], (x, y) => x / y), 4, avoidZero: true, a, b);

    [Fact]
    public void Operators() =>
        Check(t => (t[0] * t[1] + t[0]) * 2f - 1f,
            d => Ref.Map(Ref.Binary(Ref.Binary(d[0], d[1], (x, y) => x * y), d[0], (x, y) => x + y), v => v * 2 - 1), 5, [3, 4], [4]);

    [Fact] public void AddScalar() => Check(t => Ops.AddScalar(t[0], 0.7f), d => Ref.Map(d[0], x => x + 0.7f), 6, [3, 5]);
    [Fact] public void MulScalar() => Check(t => Ops.MulScalar(t[0], -1.3f), d => Ref.Map(d[0], x => x * -1.3f), 7, [3, 5]);
    [Fact] public void Neg() => Check(t => Ops.Neg(t[0]), d => Ref.Map(d[0], x => -x), 8, [7]);
    [Fact] public void Exp() => Check(t => Ops.Exp(t[0]), d => Ref.Map(d[0], Math.Exp), 9, [2, 3, 4]);

    [Fact]
    public void Log() => Check(t => Ops.Log(Ops.Abs(t[0])), d => Ref.Map(d[0], x => Math.Log(Math.Abs(x))), 10, avoidZero: true, [4, 5]);

    [Fact]
    public void Sqrt() => Check(t => Ops.Sqrt(Ops.Abs(t[0])), d => Ref.Map(d[0], x => Math.Sqrt(Math.Abs(x))), 11, avoidZero: true, [4, 5]);

    [Fact]
    public void Pow() => Check(t => Ops.Pow(Ops.Abs(t[0]), 2.5f), d => Ref.Map(d[0], x => Math.Pow(Math.Abs(x), 2.5f)), 12, avoidZero: true, [3, 3]);

    [Fact] public void Abs() => Check(t => Ops.Abs(t[0]), d => Ref.Map(d[0], Math.Abs), 13, avoidZero: true, [9]);

    [Fact]
    public void Maximum() => Check(t => Ops.Maximum(t[0], t[1]), d => Ref.Binary(d[0], d[1], Math.Max), 14, [4, 6], [4, 6]);

    [Fact] public void SumAll() => Check(t => Ops.Sum(t[0]), d => Ref.Sum(d[0]), 15, [3, 4, 5]);
    [Fact] public void MeanAll() => Check(t => Ops.Mean(t[0]), d => new DT([d[0].Data.Average()], [1]), 16, [3, 7]);

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(-1, false)]
    public void SumAxis(int axis, bool keep) =>
        Check(t => Ops.Sum(t[0], axis, keep), d => Ref.ReduceAxis(d[0], axis < 0 ? axis + 3 : axis, keep, e => e.Sum()), 17, [3, 4, 5]);

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    public void MeanAxis(int axis, bool keep) =>
        Check(t => Ops.Mean(t[0], axis, keep), d => Ref.ReduceAxis(d[0], axis, keep, e => e.Average()), 18, [4, 6]);

    [Fact] public void MaxAll() => Check(t => Ops.Max(t[0]), d => new DT([d[0].Data.Max()], [1]), 19, [5, 5]);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void MaxAxis(int axis) =>
        Check(t => Ops.Max(t[0], axis), d => Ref.ReduceAxis(d[0], axis, false, e => e.Max()), 20, [3, 4, 5]);

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void MatMul(bool ta, bool tb)
    {
        int m = 7, k = 13, n = 5;
        Check(t => Ops.MatMul(t[0], t[1], ta, tb), d => Ref.MatMul(d[0], d[1], ta, tb), 21,
            ta ? [k, m] : [m, k], tb ? [n, k] : [k, n]);
    }

    [Fact]
    public void Linear() =>
        Check(t => Ops.Linear(t[0], t[1], t[2]), d => Ref.Linear(d[0], d[1], d[2]), 22, [6, 9], [4, 9], [4]);

    [Fact]
    public void LinearNoBias() =>
        Check(t => Ops.Linear(t[0], t[1], null), d => Ref.Linear(d[0], d[1], null), 23, [65, 3], [70, 3]);

    [Fact] public void Relu() => Check(t => Ops.Relu(t[0]), d => Ref.Map(d[0], x => Math.Max(0, x)), 24, avoidZero: true, [5, 7]);
    [Fact] public void ReluOne() => Check(t => Ops.ReluOne(t[0]), d => Ref.Map(d[0], x => Math.Max(0, x)), 25, avoidZero: true, [37]);

    [Fact]
    public void LeakyRelu() =>
        Check(t => Ops.LeakyRelu(t[0], 0.2f), d => Ref.Map(d[0], x => x > 0 ? x : 0.2f * x), 26, avoidZero: true, [3, 19]);

    [Fact]
    public void PReluShared() =>
        Check(t => Ops.PRelu(t[0], t[1]), d => Ref.Map(d[0], x => x > 0 ? x : d[1].Data[0] * x), 27, avoidZero: true, [4, 5], [1]);

    [Fact]
    public void PReluPerChannel() =>
        Check(t => Ops.PRelu(t[0], t[1]), d =>
        {
            var x = d[0];
            var y = new double[x.Length];
            for (int i = 0; i < y.Length; i++)
            {
                int c = i / 4 % 3; // shape [2,3,2,2]: inner = 4
                y[i] = x.Data[i] > 0 ? x.Data[i] : d[1].Data[c] * x.Data[i];
            }
            return new DT(y, x.Shape);
        }, 28, avoidZero: true, [2, 3, 2, 2], [3]);

    [Fact] public void Elu() => Check(t => Ops.Elu(t[0], 0.8f), d => Ref.Map(d[0], x => x > 0 ? x : 0.8f * (Math.Exp(x) - 1)), 29, avoidZero: true, [6, 6]);
    [Fact] public void Swish() => Check(t => Ops.Swish(t[0]), d => Ref.Map(d[0], x => x / (1 + Math.Exp(-x))), 31, [4, 9]);
    [Fact] public void Sigmoid() => Check(t => Ops.Sigmoid(t[0]), d => Ref.Map(d[0], x => 1 / (1 + Math.Exp(-x))), 30, [4, 9]);
    [Fact] public void Tanh() => Check(t => Ops.Tanh(t[0]), d => Ref.Map(d[0], Math.Tanh), 31, [4, 9]);

    [Fact]
    public void WibReluPreMean() =>
        Check(t => Ops.WibRelu(t[0], WibMode.PreActivationMean), d =>
        {
            double mu = d[0].Data.Average();
            return Ref.Map(d[0], x => Math.Max(0, x) - mu);
        }, 32, avoidZero: true, [4, 6]);

    [Fact]
    public void WibReluPostMean() =>
        Check(t => Ops.WibRelu(t[0], WibMode.PostActivationMean), d =>
        {
            double mu = d[0].Data.Average(x => Math.Max(0, x));
            return Ref.Map(d[0], x => Math.Max(0, x) - mu);
        }, 33, avoidZero: true, [2, 3, 2, 2]);

    [Fact]
    public void WibReluConstant() =>
        Check(t => Ops.WibRelu(t[0], WibMode.Constant, 0.4f), d => Ref.Map(d[0], x => Math.Max(0, x) - 0.4f), 34, avoidZero: true, [11]);

    [Fact] public void LogSoftmax() => Check(t => Ops.LogSoftmax(t[0]), d => Ref.LogSoftmax(d[0]), 35, [5, 7]);

    [Fact]
    public void Softmax() => Check(t => Ops.Softmax(t[0]), d => Ref.Map(Ref.LogSoftmax(d[0]), Math.Exp), 36, [3, 4]);

    [Theory]
    [InlineData(Reduction.Mean)]
    [InlineData(Reduction.Sum)]
    public void CrossEntropy(Reduction red)
    {
        int[] labels = [2, 0, 4, 4, 1, 3];
        Check(t => Ops.CrossEntropy(t[0], labels, red), d => Ref.CrossEntropy(d[0], labels, red == Reduction.Mean), 37, [6, 5]);
    }

    [Fact]
    public void CrossEntropyLargeLogitsStable()
    {
        var x = Tensor.FromArray(new float[] { 1000f, -1000f, 0f, 500f, 499f, -3f }, 2, 3);
        var loss = Ops.CrossEntropy(x, [1, 0]);
        // row 0: lse ≈ 1000 → loss 2000; row 1: lse = 500 + log(1 + e^-1) → loss = that − 500
        double expected = (2000 + Math.Log(1 + Math.Exp(-1))) / 2;
        Assert.Equal(expected, loss.Item(), 2);
        Assert.True(float.IsFinite(loss.Item()));
    }

    [Fact]
    public void CrossEntropyRejectsBadLabel()
    {
        var x = Tensor.Zeros(2, 3);
        var e = Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(x, [0, 3]));
        Assert.Contains("label 3", e.Message);
    }

    [Fact]
    public void Mse() =>
        Check(t => Ops.Mse(t[0], t[1]), d => new DT([d[0].Data.Zip(d[1].Data, (a, b) => (a - b) * (a - b)).Average()], [1]), 38, [4, 3], [4, 3]);

    [Fact]
    public void Reshape() => Check(t => Ops.Mul(Ops.Reshape(t[0], 3, -1), t[1]), d =>
        Ref.Binary(new DT(d[0].Data, [3, 4]), d[1], (a, b) => a * b), 39, [2, 6], [3, 4]);

    [Fact] public void Flatten() => Check(t => Ops.Flatten(t[0]), d => new DT(d[0].Data, [2, 12]), 40, [2, 3, 2, 2]);

    [Theory]
    [InlineData(new[] { 1, 0 })]
    [InlineData(new[] { 0, 2, 3, 1 })]
    [InlineData(new[] { 3, 1, 0, 2 })]
    public void Permute(int[] perm)
    {
        int[] shape = perm.Length == 2 ? [3, 5] : [2, 3, 4, 5];
        Check(t => Ops.Permute(t[0], perm), d => Ref.Permute(d[0], perm), 41, shape);
    }

    [Fact] public void Transpose() => Check(t => Ops.Transpose(t[0]), d => Ref.Permute(d[0], [1, 0]), 42, [4, 7]);

    [Theory]
    [InlineData(0, 1, 2)]
    [InlineData(1, 0, 3)]
    [InlineData(2, 2, 1)]
    public void Slice(int axis, int start, int len) =>
        Check(t => Ops.Slice(t[0], axis, start, len), d => Ref.Slice(d[0], axis, start, len), 43, [3, 4, 5]);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Concat(int axis)
    {
        int[] a = [2, 3], b = axis == 0 ? [4, 3] : [2, 5];
        Check(t => Ops.Concat(axis, t[0], t[1]), d => Ref.Concat(axis, d[0], d[1]), 44, a, b);
    }

    [Fact]
    public void SharedInputAccumulates() =>
        // x used three times: gradients from every use must add up
        Check(t => Ops.Add(Ops.Mul(t[0], t[0]), Ops.Exp(t[0])), d => Ref.Map(d[0], x => x * x + Math.Exp(x)), 45, [3, 3]);

    [Fact]
    public void DeepComposite() =>
        Check(t => Ops.CrossEntropy(Ops.Linear(Ops.Tanh(Ops.Linear(t[0], t[1], t[2])), t[3], null), [1, 0, 2]),
            d => Ref.CrossEntropy(Ref.Linear(Ref.Map(Ref.Linear(d[0], d[1], d[2]), Math.Tanh), d[3], null), [1, 0, 2], true),
            46, [3, 4], [5, 4], [5], [3, 5]);
}
