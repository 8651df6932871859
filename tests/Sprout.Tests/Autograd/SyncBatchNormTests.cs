using Sprout.Autograd;
using Sprout.Kernels;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Autograd;

/// <summary>
/// Synchronised BatchNorm (<see cref="Ops.BatchNorm"/> with an <see cref="IBatchStatisticsSync"/>) against the one-tensor
/// BatchNorm of the concatenated batch, with a fake two-"rank" sync that runs the ranks one after the other (no MPI).
/// </summary>
public class SyncBatchNormTests
{
    // Two ranks run in turn. Each collective stores the caller's vector under its call index and, once the other rank
    // has stored one for that call, returns v₀ + v₁ (rank order). Rounds of (rank 0, rank 1) repeat until a round
    // changes no stored vector and every call found both: the last round is then a consistent simultaneous run.
    private sealed class TwoRanks
    {
        private readonly List<double[]?[]> _calls = [];

        public bool Settled { get; set; }

        public IBatchStatisticsSync For(int rank, double weight) => new View(this, rank, weight);

        private void Exchange(int rank, int call, Span<double> values)
        {
            while (_calls.Count <= call) _calls.Add(new double[]?[2]);
            var slot = _calls[call];
            if (slot[rank] is not { } before || !before.AsSpan().SequenceEqual(values)) Settled = false;
            slot[rank] = values.ToArray();
            if (slot[1 - rank] is not { } other || other.Length != values.Length)
            {
                // not yet known: a stand-in (twice the caller's vector, valid numbers), replaced in the next round
                Settled = false;
                for (int i = 0; i < values.Length; i++) values[i] *= 2;
                return;
            }
            var (v0, v1) = (slot[0]!, slot[1]!);
            for (int i = 0; i < values.Length; i++) values[i] = v0[i] + v1[i];
        }

        private sealed class View(TwoRanks hub, int rank, double weight) : IBatchStatisticsSync
        {
            private int _call;
            public int Rank => rank;
            public int Size => 2;
            public double Weight => weight;
            public void AllReduceSum(Span<double> values) => hub.Exchange(rank, _call++, values);
        }
    }

    // a sync of one process: nothing to exchange
    private sealed class Alone : IBatchStatisticsSync
    {
        public int Calls { get; private set; }
        public int Rank => 0;
        public int Size => 1;
        public double Weight => 1;
        public void AllReduceSum(Span<double> values) => Calls++;
    }

    private sealed record Result(float[] Y, float[] Dx, float[] DGamma, float[] DBeta, float[] RunningMean, float[] RunningVar);

    // BatchNorm of x [rows, …] (fresh parameters from the fixed γ, β and running statistics), backward with upstream g
    private static Result Run(float[] x, float[] g, int[] shape, float[] gamma, float[] beta, NormActivation act, IBatchStatisticsSync? sync)
    {
        int c = shape[1];
        var xt = new Tensor(x.ToArray(), shape) { RequiresGrad = true };
        var gt = new Tensor(gamma.ToArray(), c) { RequiresGrad = true };
        var bt = new Tensor(beta.ToArray(), c) { RequiresGrad = true };
        var rm = new Tensor(Enumerable.Repeat(0.5f, c).ToArray(), c);
        var rv = new Tensor(Enumerable.Repeat(2f, c).ToArray(), c);
        var y = Ops.BatchNorm(xt, gt, bt, rm, rv, training: true, momentum: 0.1f, activation: act, sync: sync);
        y.Backward(new Tensor(g.ToArray(), shape));
        return new Result(y.ToArray(), xt.Grad!.ToArray(), gt.Grad!.ToArray(), bt.Grad!.ToArray(), rm.ToArray(), rv.ToArray());
    }

    // max |a − b| / max |b|
    private static double Rel(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(b.Length, a.Length);
        double diff = 0, scale = 0;
        for (int i = 0; i < a.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs((double)a[i] - b[i]));
            scale = Math.Max(scale, Math.Abs((double)b[i]));
        }
        return diff / scale;
    }

    public static TheoryData<int[], int, NormActivation> Cases => new()
    {
        // shape of the whole batch, rows of rank 0 (rank 1 takes the rest), fused activation
        { [8, 4], 3, NormActivation.None },             // BatchNorm1d, uneven 3 + 5 (weights 3/8, 5/8)
        { [2, 3], 1, NormActivation.None },             // one row per rank: two values per channel only in all
        { [6, 3, 4, 4], 2, NormActivation.Relu },       // BatchNorm2d + ReLU, 2 + 4
        { [4, 5, 3, 3], 2, NormActivation.Swish },      // BatchNorm2d + Swish, even split
        { [64, 8, 8, 8], 32, NormActivation.Relu },    // a CIFAR-sized split 32 + 32 (measured: the same bits)
    };

    [Theory, MemberData(nameof(Cases))]
    public void TwoRanksEqualTheConcatenatedBatch(int[] shape, int rows0, NormActivation act)
    {
        int n = shape[0], c = shape[1], row = shape.Skip(1).Aggregate(1, (a, b) => a * b);
        var rng = new Rng(171);
        // the two halves have very different statistics: each rank's own normalisation would be far off
        var x = Tensor.Uniform(rng, -1, 1, shape).ToArray();
        for (int i = rows0 * row; i < x.Length; i++) x[i] = 3 * x[i] + 4;
        var g = Tensor.Uniform(rng, -1, 1, shape).ToArray();
        var gamma = Tensor.Uniform(rng, 0.5, 1.5, c).ToArray();
        var beta = Tensor.Uniform(rng, -0.5, 0.5, c).ToArray();
        var whole = Run(x, g, shape, gamma, beta, act, sync: null);

        int[] rows = [rows0, n - rows0];
        double[] w = [(double)rows0 / n, (double)(n - rows0) / n];
        float[] Part(float[] a, int r) => a.AsSpan(r == 0 ? 0 : rows0 * row, rows[r] * row).ToArray();
        int[] Shape(int r) => [rows[r], .. shape[1..]];
        // rank r's upstream gradient is of its own loss (the mean over its rows): the global one divided by its weight
        float[] Upstream(int r) => Part(g, r).Select(v => (float)(v / w[r])).ToArray();

        var hub = new TwoRanks();
        var ranks = new Result[2];
        for (int round = 0; ; round++)
        {
            Assert.True(round < 6, "the fake ranks did not settle");
            hub.Settled = true;
            for (int r = 0; r < 2; r++) ranks[r] = Run(Part(x, r), Upstream(r), Shape(r), gamma, beta, act, hub.For(r, w[r]));
            if (hub.Settled) break;
        }

        // forward: each rank's rows of the whole batch's output; the running statistics the same bits on both ranks
        double yDiff = Rel([.. ranks[0].Y, .. ranks[1].Y], whole.Y);
        Assert.True(yDiff < 1e-6, $"y differs by {yDiff:G3}");
        Assert.Equal(ranks[0].RunningMean, ranks[1].RunningMean);
        Assert.Equal(ranks[0].RunningVar, ranks[1].RunningVar);
        Assert.True(Rel(ranks[0].RunningMean, whole.RunningMean) < 1e-6);
        Assert.True(Rel(ranks[0].RunningVar, whole.RunningVar) < 1e-6);
        // backward: dx in each rank's own loss scale (weight × it is the global dx); γ, β the rank's own sums, which
        // weighted and added (what the gradient reduction does) give the whole batch's
        var dx = ranks[0].Dx.Select(v => (float)(v * w[0])).Concat(ranks[1].Dx.Select(v => (float)(v * w[1]))).ToArray();
        double dxDiff = Rel(dx, whole.Dx);
        Assert.True(dxDiff < 1e-6, $"dx differs by {dxDiff:G3}");
        float[] Reduced(Func<Result, float[]> of) => Enumerable.Range(0, c).Select(j => (float)(w[0] * of(ranks[0])[j] + w[1] * of(ranks[1])[j])).ToArray();
        double dgDiff = Rel(Reduced(r => r.DGamma), whole.DGamma), dbDiff = Rel(Reduced(r => r.DBeta), whole.DBeta);
        Assert.True(dgDiff < 1e-6, $"dγ differs by {dgDiff:G3}");
        Assert.True(dbDiff < 1e-6, $"dβ differs by {dbDiff:G3}");
        TestContext.Current.SendDiagnosticMessage($"{string.Join("×", shape)} split {rows0}+{n - rows0}: y {yDiff:G3}, dx {dxDiff:G3}, dγ {dgDiff:G3}, dβ {dbDiff:G3}");

        // the check is sharp: without the sync each rank normalises its own rows, far from the whole batch's output
        if (rows0 * (row / c) >= 2)
        {
            var own = Run(Part(x, 0), Upstream(0), Shape(0), gamma, beta, act, sync: null);
            Assert.True(Rel(own.Y, Part(whole.Y, 0)) > 0.1);
        }
    }

    [Theory]
    [InlineData(NormActivation.None)]
    [InlineData(NormActivation.Relu)]
    public void AOneProcessSyncChangesNoBit(NormActivation act)
    {
        // the synchronised path with nothing to exchange: the same bits as no sync (which is the path of before)
        int[] shape = [5, 3, 4, 4];
        var rng = new Rng(172);
        var x = Tensor.Uniform(rng, -2, 3, shape).ToArray();
        var g = Tensor.Uniform(rng, -1, 1, shape).ToArray();
        var gamma = Tensor.Uniform(rng, 0.5, 1.5, 3).ToArray();
        var beta = Tensor.Uniform(rng, -0.5, 0.5, 3).ToArray();
        var alone = new Alone();
        var synced = Run(x, g, shape, gamma, beta, act, alone);
        var plain = Run(x, g, shape, gamma, beta, act, sync: null);
        Assert.Equal(2, alone.Calls);   // one collective forward, one backward
        Assert.Equal(plain.Y, synced.Y);
        Assert.Equal(plain.Dx, synced.Dx);
        Assert.Equal(plain.DGamma, synced.DGamma);
        Assert.Equal(plain.DBeta, synced.DBeta);
        Assert.Equal(plain.RunningMean, synced.RunningMean);
        Assert.Equal(plain.RunningVar, synced.RunningVar);
    }

    [Fact]
    public void EvaluationModeNeverCallsTheSync()
    {
        var x = Tensor.Uniform(new Rng(173), -1, 1, 4, 2);
        var alone = new Alone();
        var y = Ops.BatchNorm(x, null, null, Tensor.Zeros(2), Tensor.Ones(2), training: false, sync: alone);
        Assert.Equal(0, alone.Calls);
        Assert.Equal(Ops.BatchNorm(x, null, null, Tensor.Zeros(2), Tensor.Ones(2), training: false).ToArray(), y.ToArray());
    }
}
