using Sprout.Autograd;
using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Training;

/// <summary>
/// Data-parallel bookkeeping of a <see cref="Trainer"/> with a <see cref="Trainer.Communicator"/>: which rows of a
/// global batch are this rank's, the model's BatchNorm layers (synchronised for the span of each training step, see
/// <see cref="Synchronise"/>), and the one reduction per step that makes every rank's update the global batch's.
/// Each rank's gradient (the mean over its rows) is weighted by its share of the global batch (rows/global rows, 0.5
/// exactly for an even split over two ranks), then all ranks' are summed in rank order
/// (<see cref="ICommunicator.AllReduceSum(Span{float})"/>): the gradient of the mean loss over the global batch, the
/// same bits on every rank, so every rank's model stays identical. BatchNorm layers normalise with the global batch's
/// statistics (their partial statistics, and in backward their weighted Σd and Σd·x, are summed over the ranks inside
/// <see cref="Autograd.Ops.BatchNorm"/>), so their running statistics come out the same on every rank and are not
/// reduced here; γ and β gradients are the ranks' own and are weighted and summed like every other gradient.
/// Dropout layers are told where the rank's rows sit in the global batch (<see cref="Dropout.Shard"/>): each draws the
/// global batch's mask and keeps its rows' part, so its mask and its stream are one process's on every rank.
/// One buffer, reused while the model keeps its size: no allocation per step.
/// </summary>
internal sealed class GradientReducer
{
    private float[] _buffer = [];
    private float[] _statistics = [];
    private BatchNorm[] _norms = [];
    private Dropout[] _dropouts = [];
    private Rng[] _streams = [];
    private RngState[] _streamStates = [];

    /// <summary>The rows [start, start+count) of a global batch of <paramref name="rows"/> that rank <paramref name="rank"/> of <paramref name="size"/> takes.</summary>
    public static (int Start, int Count) Share(int rows, int rank, int size)
    {
        int lo = (int)((long)rows * rank / size), hi = (int)((long)rows * (rank + 1) / size);
        return (lo, hi - lo);
    }

    /// <summary>
    /// Finds the model's BatchNorm and dropout layers and its random streams again (call when the model may have changed:
    /// at every epoch's start). Throws <see cref="NotSupportedException"/> for a random stream of another layer than
    /// dropout: nothing would keep its draws one process's.
    /// </summary>
    public void Refresh(Module model)
    {
        var modules = model.NamedModules().Select(m => m.Module).ToArray();
        var dropouts = modules.OfType<Dropout>().ToArray();
        var streams = model.NamedRngs().ToArray();
        var dropoutStreams = dropouts.SelectMany(d => d.NamedRngs()).Select(r => r.Rng).ToHashSet(ReferenceEqualityComparer.Instance);
        if (streams.FirstOrDefault(r => !dropoutStreams.Contains(r.Rng)) is { Rng: not null } other)
            throw new NotSupportedException($"data-parallel training does not support the random stream {other.Name} (only dropout layers draw the global batch's masks; each process would draw its own)");
        _norms = modules.OfType<BatchNorm>().ToArray();
        _dropouts = dropouts;
        HasDropouts = dropouts.Any(d => d.Config.P > 0);
        _streams = streams.Select(r => r.Rng).ToArray();
        if (_streamStates.Length != _streams.Length) _streamStates = new RngState[_streams.Length];
    }

    /// <summary>Whether the model (when last <see cref="Refresh">refreshed</see>) has BatchNorm layers.</summary>
    public bool HasNorms => _norms.Length > 0;

    /// <summary>Whether the model (when last <see cref="Refresh">refreshed</see>) has dropout layers that draw (p &gt; 0).</summary>
    public bool HasDropouts { get; private set; }

    /// <summary>Sets <see cref="Dropout.Shard"/> of every dropout layer found (default: each rank's own batch again).</summary>
    public void Place(BatchShard shard)
    {
        foreach (var d in _dropouts) d.Shard = shard;
    }

    /// <summary>Copies the state of every random stream aside (before a step's forward pass, which draws from them).</summary>
    public void SaveStreams()
    {
        for (int i = 0; i < _streams.Length; i++) _streamStates[i] = _streams[i].GetState();
    }

    /// <summary>Puts back the random streams of the last <see cref="SaveStreams"/> (a step abandoned after its forward pass).</summary>
    public void RestoreStreams()
    {
        for (int i = 0; i < _streams.Length; i++) _streams[i].SetState(_streamStates[i]);
    }

    /// <summary>Sets <see cref="BatchNorm.Sync"/> of every BatchNorm layer found (null: each rank's own batch again).</summary>
    public void Synchronise(IBatchStatisticsSync? sync)
    {
        foreach (var bn in _norms) bn.Sync = sync;
    }

    /// <summary>
    /// Copies every BatchNorm's running statistics aside (before a step's forward pass, which updates them), for
    /// <see cref="RestoreStatistics"/>. One buffer, reused while the model keeps its size.
    /// </summary>
    public void SaveStatistics()
    {
        int n = 0;
        foreach (var bn in _norms) n += bn.RunningMean.Length + bn.RunningVar.Length;
        if (_statistics.Length != n) _statistics = new float[n];
        int at = 0;
        foreach (var bn in _norms)
            foreach (var t in (ReadOnlySpan<Tensor>)[bn.RunningMean, bn.RunningVar])
            {
                t.Span.CopyTo(_statistics.AsSpan(at));
                at += t.Length;
            }
    }

    /// <summary>Puts back the running statistics of the last <see cref="SaveStatistics"/> (a step abandoned after its forward pass).</summary>
    public void RestoreStatistics()
    {
        int at = 0;
        foreach (var bn in _norms)
            foreach (var t in (ReadOnlySpan<Tensor>)[bn.RunningMean, bn.RunningVar])
            {
                _statistics.AsSpan(at, t.Length).CopyTo(t.Span);
                at += t.Length;
            }
    }

    /// <summary>
    /// Replaces every parameter's gradient by the weighted sum over the ranks (a parameter without a gradient on every
    /// rank keeps none).
    /// </summary>
    public void Reduce(ICommunicator communicator, IReadOnlyList<Tensor> parameters, float weight)
    {
        int n = parameters.Count;
        for (int i = 0; i < parameters.Count; i++) n += parameters[i].Length;
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
        communicator.AllReduceSum(buf);
        at = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (buf[at + p.Length] > 0) buf.Slice(at, p.Length).CopyTo(p.GradBuffer(out _).Span);
            at += p.Length + 1;
        }
    }
}
