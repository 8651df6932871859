using System.Runtime.ExceptionServices;
using Sprout.Tensors;

namespace Sprout.Data;

/// <summary>Options of a <see cref="DataLoader"/>.</summary>
public sealed class DataLoaderOptions
{
    /// <summary>Samples per batch (default 64).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Whether each epoch visits the samples in a seeded random order (default true).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Whether to skip the last, smaller batch of an epoch (default false).</summary>
    public bool DropLast { get; init; }

    /// <summary>Seed of the shuffle and augmentation streams.</summary>
    public ulong Seed { get; init; }

    /// <summary>Whether X is [B, C·H·W] (for MLPs) instead of [B, C, H, W].</summary>
    public bool Flatten { get; init; }

    /// <summary>
    /// Per-channel means subtracted after scaling pixels to [0, 1] (e.g. <see cref="DatasetSpec.Mean"/> or
    /// <see cref="Dataset.ChannelStats"/> of the training split). Null: no normalisation (pixels in [0, 1]).
    /// </summary>
    public float[]? Mean { get; init; }

    /// <summary>Per-channel standard deviations to divide by (null: 1).</summary>
    public float[]? Std { get; init; }

    /// <summary>Per-sample augmentation applied to [0, 1] pixels before normalisation, or null.</summary>
    public IAugmentation? Augmentation { get; init; }

    /// <summary>
    /// How many batches a background thread may prepare ahead of the consumer (default 16; a blocked producer is woken once half of them are free). 0 prepares each batch
    /// on the consumer's thread inside MoveNext.
    /// </summary>
    public int Prefetch { get; init; } = 16;
}

/// <summary>
/// Turns a <see cref="Dataset"/> into mini-batches: seeded shuffling, optional augmentation, per-channel
/// normalisation, optional flattening, and a background prefetch thread with a bounded number of batches in
/// flight. Batch buffers are allocated once and recycled, so an epoch allocates nothing per batch.
/// </summary>
/// <remarks>
/// Use <c>foreach (var batch in loader.Epoch(e)) { ... }</c>. The enumerator releases the previous batch when
/// MoveNext is called, so a batch is valid only inside its loop iteration (<see cref="Batch.Dispose"/> may release it
/// earlier). Epoch <c>e</c>'s order and augmentation depend only on the seed and <c>e</c>. One epoch may be
/// enumerated at a time per loader; breaking out of the loop stops the prefetch thread.
/// </remarks>
public sealed class DataLoader : IDisposable
{
    private readonly Dataset _data;
    private readonly DataLoaderOptions _opt;
    private readonly ImageShape _shape;
    private readonly int[] _order;
    private readonly float[] _scale, _bias; // per channel: value = byte * scale + bias
    private readonly float[] _mean, _invStd;
    private readonly int _fullBatches, _tail;
    private readonly object _gate = new();

    // buffer pools: full-size batches and (at most one) tail batch
    private readonly Batch[] _full;
    private readonly Stack<Batch> _freeFull;
    private readonly Batch? _tailBatch;
    private bool _tailFree = true;
    private int _freeCount;               // mirror of _freeFull.Count readable without the lock
    private const int SpinLimit = 40;
    private bool _producerWaiting;        // the producer is blocked in Acquire
    private readonly int _wakeAt;         // free full buffers that wake it
    private bool _running;
    private bool _disposed;

    /// <summary>Creates a loader over <paramref name="data"/>.</summary>
    public DataLoader(Dataset data, DataLoaderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        _data = data;
        _opt = options ?? new DataLoaderOptions();
        if (_opt.BatchSize <= 0) throw new ArgumentOutOfRangeException(nameof(options), "BatchSize must be positive");
        if (_opt.Prefetch < 0) throw new ArgumentOutOfRangeException(nameof(options), "Prefetch must be non-negative");
        _shape = new ImageShape(data.Channels, data.Height, data.Width);
        int c = data.Channels;
        _mean = new float[c];
        _invStd = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            float m = _opt.Mean is null ? 0f : _opt.Mean.Length == c ? _opt.Mean[ch] : _opt.Mean.Length == 1 ? _opt.Mean[0]
                : throw new ArgumentException($"Mean has {_opt.Mean.Length} values for {c} channels");
            float s = _opt.Std is null ? 1f : _opt.Std.Length == c ? _opt.Std[ch] : _opt.Std.Length == 1 ? _opt.Std[0]
                : throw new ArgumentException($"Std has {_opt.Std.Length} values for {c} channels");
            if (!(s > 0)) throw new ArgumentException("Std values must be positive");
            _mean[ch] = m;
            _invStd[ch] = 1f / s;
        }
        _scale = new float[c];
        _bias = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            _scale[ch] = _invStd[ch] / 255f;
            _bias[ch] = -_mean[ch] * _invStd[ch];
        }

        _order = new int[data.Count];
        int b = _opt.BatchSize;
        _fullBatches = data.Count / b;
        _tail = _opt.DropLast ? 0 : data.Count % b;
        int[] xTail = _opt.Flatten ? [data.SampleSize] : [data.Channels, data.Height, data.Width];
        int pool = _fullBatches == 0 ? 0 : Math.Min(_fullBatches, _opt.Prefetch + 1);
        _full = new Batch[pool];
        _freeFull = new Stack<Batch>(pool);
        for (int i = 0; i < pool; i++)
        {
            _full[i] = new Batch(this, b, data.SampleSize, xTail, isTail: false);
            _freeFull.Push(_full[i]);
        }
        _freeCount = pool;
        _wakeAt = Math.Max(1, pool / 2);
        if (_tail > 0) _tailBatch = new Batch(this, _tail, data.SampleSize, xTail, isTail: true);
    }

    /// <summary>The data set.</summary>
    public Dataset Data => _data;

    /// <summary>The options.</summary>
    public DataLoaderOptions Options => _opt;

    /// <summary>Batches per epoch (including the smaller last batch unless DropLast).</summary>
    public int BatchesPerEpoch => _fullBatches + (_tail > 0 ? 1 : 0);

    /// <summary>Samples per epoch (Count, or fewer with DropLast).</summary>
    public int SamplesPerEpoch => _fullBatches * _opt.BatchSize + _tail;

    /// <summary>The order in which epoch <paramref name="epoch"/> visits the samples (a new array).</summary>
    public int[] Order(int epoch)
    {
        var o = new int[_data.Count];
        FillOrder(o, epoch);
        return o;
    }

    private void FillOrder(int[] order, int epoch)
    {
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (_opt.Shuffle) new Rng(_opt.Seed).Fork("shuffle", epoch).Shuffle(order.AsSpan());
    }

    /// <summary>
    /// The batches of one epoch. The previous batch is released when MoveNext is called (or by its Dispose).
    /// Same seed and epoch give the same batches.
    /// </summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new EpochEnumerator(this, epoch);
    }

    /// <summary>Releases nothing unmanaged; marks the loader unusable.</summary>
    public void Dispose() => _disposed = true;

    // ------------------------------------------------------------------ buffers

    internal void Release(Batch b, int lease)
    {
        lock (_gate)
        {
            if (!b.Out || b.Lease != lease) return;
            b.Out = false;
            if (b.IsTail) _tailFree = true;
            else { _freeFull.Push(b); _freeCount = _freeFull.Count; }
            // Wake a blocked producer only once half the buffers are free: waking a thread is a system call on this
            // (the training) thread that costs tens of microseconds on a virtual machine, so it is paid once per
            // several batches rather than once per batch.
            if (_producerWaiting && (b.IsTail || _freeCount >= _wakeAt)) Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Takes a free buffer for batch <paramref name="index"/>, waiting while all are in flight; null when cancelled.</summary>
    private Batch? Acquire(int index, Func<bool> cancelled)
    {
        bool tail = index >= _fullBatches;
        var spin = new SpinWait();
        while (spin.Count < SpinLimit && !cancelled() && (tail ? !Volatile.Read(ref _tailFree) : Volatile.Read(ref _freeCount) == 0))
            spin.SpinOnce(sleep1Threshold: -1);
        lock (_gate)
        {
            while (true)
            {
                if (cancelled()) return null;
                if (tail ? _tailFree : _freeCount > 0) break;
                _producerWaiting = true;
                Monitor.Wait(_gate);
                _producerWaiting = false;
            }
            if (tail) _tailFree = false;
            var b = tail ? _tailBatch! : _freeFull.Pop();
            _freeCount = _freeFull.Count;
            b.Out = true;
            b.Lease++;
            return b;
        }
    }

    private void Fill(Batch batch, int epoch, int index, Rng? augRng, float[]? scratch)
    {
        int bs = _opt.BatchSize;
        int start = index * bs;
        int count = index < _fullBatches ? bs : _tail;
        int d = _data.SampleSize, plane = _shape.Plane, channels = _shape.Channels;
        batch.Count = count;
        batch.Index = index;
        batch.Epoch = epoch;
        var px = _data.Pixels;
        var labels = _data.Labels;
        var x = batch.XData;
        var aug = _opt.Augmentation;
        for (int i = 0; i < count; i++)
        {
            int s = _order[start + i];
            batch.Indices[i] = s;
            batch.Y[i] = labels[s];
            var src = new ReadOnlySpan<byte>(px, s * d, d);
            var dst = new Span<float>(x, i * d, d);
            if (aug is null)
            {
                for (int c = 0; c < channels; c++)
                    PixelKernels.AffineFromBytes(src.Slice(c * plane, plane), dst.Slice(c * plane, plane), _scale[c], _bias[c]);
            }
            else
            {
                const float inv255 = 1f / 255f;
                for (int k = 0; k < d; k++) dst[k] = src[k] * inv255;
                aug.Apply(dst, scratch!, _shape, augRng!);
                for (int c = 0; c < channels; c++)
                {
                    float m = _mean[c], r = _invStd[c];
                    var dp = dst.Slice(c * plane, plane);
                    for (int k = 0; k < dp.Length; k++) dp[k] = (dp[k] - m) * r;
                }
            }
        }
    }

    // ------------------------------------------------------------------ enumeration

    private sealed class EpochEnumerator : IEnumerable<Batch>, IEnumerator<Batch>
    {
        private readonly DataLoader _l;
        private readonly int _epoch;
        private bool _started;
        private Batch? _current;
        private int _currentLease;
        private int _next;                  // next batch index (synchronous mode) 
        private Rng? _augRng;
        private float[]? _scratch;

        // background mode
        private Thread? _thread;
        private Batch?[]? _ready;           // ring of prepared batches
        private int _head, _count;
        private bool _producerDone, _cancel;
        private ExceptionDispatchInfo? _error;
        private Func<bool>? _isCancelled;   // made once per epoch so Acquire allocates nothing per batch
        private bool _finished;

        public EpochEnumerator(DataLoader l, int epoch)
        {
            _l = l;
            _epoch = epoch;
        }

        public IEnumerator<Batch> GetEnumerator()
        {
            if (_started) throw new InvalidOperationException("an Epoch(...) sequence can be enumerated only once; call Epoch again");
            return this;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public Batch Current => _current ?? throw new InvalidOperationException("no current batch");

        object System.Collections.IEnumerator.Current => Current;

        private void Start()
        {
            _started = true;
            lock (_l._gate)
            {
                if (_l._running) throw new InvalidOperationException("this loader is already enumerating an epoch; finish or dispose it first");
                _l._running = true;
            }
            _l.FillOrder(_l._order, _epoch);
            if (_l._opt.Augmentation is not null)
            {
                _augRng = new Rng(_l._opt.Seed).Fork("augment", _epoch);
                _scratch = new float[_l._data.SampleSize];
            }
            if (_l._opt.Prefetch > 0 && _l.BatchesPerEpoch > 0)
            {
                _ready = new Batch?[_l._full.Length + 1];
                _isCancelled = () => Volatile.Read(ref _cancel);
                _thread = new Thread(Produce) { IsBackground = true, Name = "sprout-loader" };
                _thread.Start();
            }
        }

        public bool MoveNext()
        {
            if (_finished) return false;
            if (!_started) Start();
            if (_current is not null)
            {
                _l.Release(_current, _currentLease);
                _current = null;
            }
            if (_thread is null)
            {
                if (_next >= _l.BatchesPerEpoch) return false;
                var b = _l.Acquire(_next, static () => false)!;
                try { _l.Fill(b, _epoch, _next, _augRng, _scratch); }
                catch { _l.Release(b, b.Lease); throw; }
                _next++;
                _current = b;
                _currentLease = b.Lease;
                return true;
            }
            // Spin briefly before blocking: a batch is usually moments away, and a blocking wait costs two
            // context switches per batch.
            var spin = new SpinWait();
            while (Volatile.Read(ref _count) == 0 && !Volatile.Read(ref _producerDone) && spin.Count < SpinLimit)
                spin.SpinOnce(sleep1Threshold: -1);
            lock (_l._gate)
            {
                while (_count == 0 && !_producerDone && _error is null) Monitor.Wait(_l._gate);
                if (_count > 0)
                {
                    var b = _ready![_head]!;
                    _ready[_head] = null;
                    _head = (_head + 1) % _ready.Length;
                    _count--;
                    _current = b;
                    _currentLease = b.Lease;
                    return true;
                }
            }
            _error?.Throw();
            return false;
        }

        private void Produce()
        {
            try
            {
                int n = _l.BatchesPerEpoch;
                for (int i = 0; i < n; i++)
                {
                    var b = _l.Acquire(i, _isCancelled!);
                    if (b is null) return;
                    _l.Fill(b, _epoch, i, _augRng, _scratch);
                    lock (_l._gate)
                    {
                        if (_cancel) { b.Out = false; ReturnUnlocked(b); return; }
                        _ready![(_head + _count) % _ready.Length] = b;
                        _count++;
                        Monitor.PulseAll(_l._gate);
                    }
                }
            }
            catch (Exception e)
            {
                lock (_l._gate) _error = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                lock (_l._gate)
                {
                    _producerDone = true;
                    Monitor.PulseAll(_l._gate);
                }
            }
        }

        private void ReturnUnlocked(Batch b)
        {
            if (b.IsTail) _l._tailFree = true;
            else { _l._freeFull.Push(b); _l._freeCount = _l._freeFull.Count; }
        }

        public void Reset() => throw new NotSupportedException();

        public void Dispose()
        {
            if (!_started || _finished) return;
            _finished = true;
            if (_current is not null)
            {
                _l.Release(_current, _currentLease);
                _current = null;
            }
            if (_thread is not null)
            {
                lock (_l._gate)
                {
                    _cancel = true;
                    Monitor.PulseAll(_l._gate);
                }
                _thread.Join();
                _thread = null;
                lock (_l._gate)
                {
                    while (_count > 0)
                    {
                        var b = _ready![_head]!;
                        _ready[_head] = null;
                        _head = (_head + 1) % _ready.Length;
                        _count--;
                        b.Out = false;
                        ReturnUnlocked(b);
                    }
                }
            }
            lock (_l._gate) _l._running = false;
        }
    }
}
