using System.Runtime.ExceptionServices;

namespace Sprout.Kernels;

/// <summary>
/// A fixed set of persistent worker threads for data-parallel kernels. Work is split into as many parts as there
/// are threads by a deterministic rule chosen by the caller (never by timing), so the same thread count always
/// produces bit-identical results.
/// </summary>
public static class Workers
{
    private static int _threads = 1;
    private static Worker[] _pool = System.Array.Empty<Worker>();
    private static readonly Lock Gate = new();
    [ThreadStatic] private static bool _inside;

    /// <summary>Threads used by kernels (1 = everything on the calling thread). Default 1.</summary>
    public static int Threads
    {
        get => _threads;
        set
        {
            if (value < 1 || value > 256) throw new ArgumentOutOfRangeException(nameof(value), "threads must be 1..256");
            lock (Gate)
            {
                _threads = value;
                if (_pool.Length < value - 1)
                {
                    var p = new Worker[value - 1];
                    System.Array.Copy(_pool, p, _pool.Length);
                    for (int i = _pool.Length; i < p.Length; i++) p[i] = new Worker(i + 1);
                    _pool = p;
                }
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/>(0..parts-1), part 0 on the calling thread and the rest on workers, and waits.
    /// Nested calls run serially. Exceptions reach the caller.
    /// </summary>
    public static void Run(int parts, Action<int> body)
    {
        // Serial when there is nothing to split, when called from inside a part, or when another thread is using
        // the workers right now (the partition depends only on the part index, so results are the same).
        if (parts <= 1 || _inside || _threads == 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int i = 0; i < parts; i++) body(i);
            return;
        }
        try { RunParallel(parts, body); }
        finally { Volatile.Write(ref _busy, 0); }
    }

    private static int _busy;

    private static void RunParallel(int parts, Action<int> body)
    {
        var pool = _pool;
        int extra = Math.Min(parts - 1, pool.Length);
        for (int w = 0; w < extra; w++) pool[w].Post(body, w + 1);
        _inside = true;
        Exception? first = null;
        try
        {
            body(0);
            for (int i = extra + 1; i < parts; i++) body(i); // more parts than threads: the caller takes the rest
        }
        catch (Exception e) { first = e; }
        finally { _inside = false; }
        for (int w = 0; w < extra; w++)
        {
            var err = pool[w].Wait();
            first ??= err;
        }
        if (first is not null) ExceptionDispatchInfo.Capture(first).Throw();
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, count) over [0, length) in fixed, 16-aligned ranges, one per thread when
    /// length is at least <paramref name="minParallel"/> (elementwise work: results never depend on the split).
    /// </summary>
    public static void For(int length, Action<int, int> body, int minParallel = 1 << 16)
    {
        int parts = length >= minParallel ? _threads : 1;
        if (parts <= 1)
        {
            body(0, length);
            return;
        }
        int units = (length + 15) / 16;
        Run(parts, part =>
        {
            int s = (int)((long)units * part / parts) * 16, e = Math.Min(length, (int)((long)units * (part + 1) / parts) * 16);
            if (e > s) body(s, e - s);
        });
    }

    private sealed class Worker
    {
        private readonly ManualResetEventSlim _start = new(false, 2000);
        private volatile int _state; // 0 idle, 1 posted, 2 done
        private Action<int>? _body;
        private int _part;
        private Exception? _error;

        public Worker(int index)
        {
            var t = new Thread(Loop) { IsBackground = true, Name = $"sprout-worker-{index}" };
            t.Start();
        }

        public void Post(Action<int> body, int part)
        {
            _body = body;
            _part = part;
            _error = null;
            _state = 1;
            _start.Set();
        }

        public Exception? Wait()
        {
            var sw = new SpinWait();
            while (_state != 2) sw.SpinOnce(-1);
            _state = 0;
            _body = null;
            return _error;
        }

        private void Loop()
        {
            _inside = true;
            while (true)
            {
                _start.Wait();
                _start.Reset();
                if (_state != 1) continue;
                try { _body!(_part); }
                catch (Exception e) { _error = e; }
                _state = 2;
            }
        }
    }
}
