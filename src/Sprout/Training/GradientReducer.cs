using Sprout.Nn;

namespace Sprout.Training;

/// <summary>
/// Data-parallel bookkeeping of a <see cref="Trainer"/> with a <see cref="Trainer.Communicator"/>: which rows of a
/// global batch are this rank's, and the one reduction per step that makes every rank's update the global batch's.
/// Each rank's gradient (the mean over its rows) is weighted by its share of the global batch (rows/global rows, 0.5
/// exactly for an even split over two ranks), then all ranks' are summed in rank order
/// (<see cref="ICommunicator.AllReduceSum(Span{float})"/>): the gradient of the mean loss over the global batch, the
/// same bits on every rank, so every rank's model stays identical. BatchNorm layers normalise with their own rank's
/// batch statistics; their running statistics are averaged over the ranks the same way at every step (weighted by
/// share), so they stay identical too. One buffer, reused while the model keeps its size: no allocation per step.
/// </summary>
internal sealed class GradientReducer
{
    private float[] _buffer = [];
    private BatchNorm[] _norms = [];

    /// <summary>The rows [start, start+count) of a global batch of <paramref name="rows"/> that rank <paramref name="rank"/> of <paramref name="size"/> takes.</summary>
    public static (int Start, int Count) Share(int rows, int rank, int size)
    {
        int lo = (int)((long)rows * rank / size), hi = (int)((long)rows * (rank + 1) / size);
        return (lo, hi - lo);
    }

    /// <summary>Finds the model's BatchNorm layers again (call when the model may have changed: at every epoch's start).</summary>
    public void Refresh(Module model) =>
        _norms = model.NamedModules().Select(m => m.Module).OfType<BatchNorm>().ToArray();

    /// <summary>
    /// Replaces every parameter's gradient by the weighted sum over the ranks (a parameter without a gradient on every
    /// rank keeps none), and every BatchNorm's running statistics by their weighted sum.
    /// </summary>
    public void Reduce(ICommunicator communicator, IReadOnlyList<Tensor> parameters, float weight)
    {
        int n = parameters.Count;
        for (int i = 0; i < parameters.Count; i++) n += parameters[i].Length;
        foreach (var bn in _norms) n += bn.RunningMean.Length + bn.RunningVar.Length;
        if (_buffer.Length != n) _buffer = new float[n];
        var buf = _buffer.AsSpan();
        int at = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            var dst = buf.Slice(at, p.Length);
            if (p.Grad is { } g)
            {
                var src = g.Span;
                for (int j = 0; j < dst.Length; j++) dst[j] = src[j] * weight;
                buf[at + p.Length] = 1;
            }
            else
            {
                dst.Clear();
                buf[at + p.Length] = 0;
            }
            at += p.Length + 1;
        }
        foreach (var bn in _norms) at = Pack(bn.RunningVar, Pack(bn.RunningMean, at, buf, weight), buf, weight);
        communicator.AllReduceSum(buf);
        at = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (buf[at + p.Length] > 0) buf.Slice(at, p.Length).CopyTo(p.GradBuffer(out _).Span);
            at += p.Length + 1;
        }
        foreach (var bn in _norms)
        {
            at = Unpack(bn.RunningMean, at, buf);
            at = Unpack(bn.RunningVar, at, buf);
        }
    }

    private static int Pack(Tensor t, int at, Span<float> buf, float weight)
    {
        var src = t.Span;
        for (int j = 0; j < src.Length; j++) buf[at + j] = src[j] * weight;
        return at + src.Length;
    }

    private static int Unpack(Tensor t, int at, Span<float> buf)
    {
        buf.Slice(at, t.Length).CopyTo(t.Span);
        return at + t.Length;
    }
}
