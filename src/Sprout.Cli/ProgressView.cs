using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Sprout.Cli;

/// <summary>
/// What a run shows while it trains. Live (Spectre.Console): one bar per phase with batches done, ETA and the current
/// loss and accuracy, and one line per event printed above the bar. Plain (with <c>--no-progress</c>, when the output
/// is redirected or TERM is dumb): the event and phase-summary lines only, no ANSI codes.
/// </summary>
/// <remarks>
/// <see cref="Advance"/> may be called after every batch: it reads the clock and returns, except at most ten times a
/// second when it updates and redraws the bar; between updates Spectre redraws on its own thread (ten times a second)
/// so that the elapsed time and ETA keep moving. Single producer: call the
/// methods from one thread (the training loop's). Dispose ends the live display (the bar is cleared, the lines stay).
/// </remarks>
internal sealed class ProgressView : IDisposable
{
    /// <summary>The shortest time between two updates of the bar.</summary>
    public static readonly TimeSpan UpdateInterval = TimeSpan.FromMilliseconds(100);

    private static readonly long UpdateTicks = (long)(UpdateInterval.TotalSeconds * Stopwatch.Frequency);

    private readonly TextWriter? _plain;
    private readonly IAnsiConsole? _console;
    private readonly Thread? _thread;
    private readonly ManualResetEventSlim _started = new(), _stop = new();
    private ProgressContext? _context;
    private Exception? _failure;
    private ProgressTask? _task;
    private string _phase = "";
    private int _total;
    private long _lastUpdate;
    private bool _disposed;
    private readonly ConsoleCancelEventHandler? _onCancel;
    private readonly EventHandler? _onExit;

    /// <summary>A plain view: event and summary lines written to <paramref name="plain"/>, nothing else.</summary>
    public ProgressView(TextWriter plain)
    {
        ArgumentNullException.ThrowIfNull(plain);
        _plain = plain;
    }

    /// <summary>A live view on <paramref name="console"/> (which should be interactive and ANSI-capable).</summary>
    public ProgressView(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        _console = console;
        var progress = new Progress(console)
        {
            AutoClear = true,          // the bar vanishes at the end; the printed lines stay
            HideCompleted = false,     // a full bar stays until EndPhase removes it
            RefreshRate = UpdateInterval,
        }.Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 24 }, new PercentageColumn(),
            new CountColumn(), new ElapsedTimeColumn(), new EtaColumn());
        // Spectre's live display runs its callback until the view is disposed; the training thread drives the tasks
        _thread = new Thread(() =>
        {
            try
            {
                progress.Start(ctx =>
                {
                    _context = ctx;
                    _started.Set();
                    _stop.Wait();
                });
            }
            catch (Exception e) { _failure = e; }
            finally { _started.Set(); }
        })
        { IsBackground = true, Name = "sprout progress" };
        _thread.Start();
        _started.Wait();
        // Spectre hides the cursor while the bar is live: give it back if the process ends without Dispose (Ctrl+C, SIGTERM)
        var writer = console.Profile.Out.Writer;
        _onCancel = (_, _) => ShowCursor(writer);
        _onExit = (_, _) => ShowCursor(writer);
        Console.CancelKeyPress += _onCancel;
        AppDomain.CurrentDomain.ProcessExit += _onExit;
    }

    /// <summary>
    /// The view a command should use: live on the terminal unless <paramref name="noProgress"/>, the stream is redirected or
    /// TERM is dumb. <paramref name="toStdErr"/>: show it on stderr (when stdout carries JSON).
    /// </summary>
    public static ProgressView Create(bool noProgress, bool toStdErr)
    {
        var writer = toStdErr ? Console.Error : Console.Out;
        bool redirected = toStdErr ? Console.IsErrorRedirected : Console.IsOutputRedirected;
        if (!ShouldBeLive(noProgress, redirected, Environment.GetEnvironmentVariable("TERM"))) return new ProgressView(writer);
        return new ProgressView(AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.Detect,
            Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(writer),
        }));
    }

    /// <summary>Whether a live display is wanted: not switched off, not redirected, and a terminal that is not dumb.</summary>
    public static bool ShouldBeLive(bool noProgress, bool redirected, string? term) =>
        !noProgress && !redirected && !string.Equals(term, "dumb", StringComparison.Ordinal);

    /// <summary>Whether this view draws a live bar (false: plain lines).</summary>
    public bool IsLive => _context is not null && _failure is null;

    /// <summary>How many times the bar has been updated by <see cref="Advance"/> (for tests of the rate limit).</summary>
    internal int Updates { get; private set; }

    /// <summary>Starts a phase of <paramref name="totalBatches"/> batches (any unit of work); ends the previous phase if open.</summary>
    public void BeginPhase(string name, int totalBatches)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentOutOfRangeException.ThrowIfNegative(totalBatches);
        if (_task is not null) EndPhase(null);
        _phase = name;
        _total = totalBatches;
        _lastUpdate = 0;
        if (!IsLive) return;
        _task = _context!.AddTask(Markup.Escape(name), autoStart: true, maxValue: Math.Max(1, totalBatches));
        _context.Refresh();
    }

    /// <summary>
    /// Reports progress in the current phase: <paramref name="batchesDone"/> of the phase's total, and the current loss
    /// and accuracy (a fraction in [0, 1]; NaN when unknown). Cheap enough to call after every batch.
    /// </summary>
    public void Advance(int batchesDone, double loss, double accuracy)
    {
        if (_task is null) return;
        long now = Stopwatch.GetTimestamp();
        if (now - _lastUpdate < UpdateTicks && batchesDone < _total) return; // the last batch always shows
        _lastUpdate = now;
        Updates++;
        _task.Description = Markup.Escape(Describe(_phase, loss, accuracy));
        _task.Value = Math.Min(batchesDone, _total);
        _context!.Refresh(); // drawn now, on this thread: at most ten times a second
    }

    /// <summary>Ends the current phase and prints <paramref name="summary"/> as one line (none when null or empty).</summary>
    public void EndPhase(string? summary)
    {
        if (_task is not null)
        {
            _task.Value = _task.MaxValue;
            _task.StopTask();
            _context!.RemoveTask(_task);
            _task = null;
        }
        if (!string.IsNullOrEmpty(summary)) Line(summary);
    }

    /// <summary>Prints one line (e.g. a growth event), above the bar when live.</summary>
    public void Event(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        Line(line);
    }

    /// <summary>Ends the live display (clearing the bar); the printed lines stay.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_thread is not null)
        {
            _stop.Set();
            _thread.Join();
            Console.CancelKeyPress -= _onCancel;
            AppDomain.CurrentDomain.ProcessExit -= _onExit;
        }
        _plain?.Flush();
        _started.Dispose();
        _stop.Dispose();
    }

    /// <summary>"name  loss 0.1234  acc 97.50%" (a NaN figure is left out).</summary>
    internal static string Describe(string phase, double loss, double accuracy)
    {
        var s = phase;
        if (!double.IsNaN(loss)) s += string.Create(CultureInfo.InvariantCulture, $"  loss {loss:0.0000}");
        if (!double.IsNaN(accuracy)) s += string.Create(CultureInfo.InvariantCulture, $"  acc {accuracy * 100:0.00}%");
        return s;
    }

    private static void ShowCursor(TextWriter writer)
    {
        try
        {
            writer.Write("\u001b[?25h");
            writer.Flush();
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    private void Line(string line)
    {
        if (_console is not null && _failure is null) _console.WriteLine(line);
        else (_plain ?? Console.Out).WriteLine(line);
    }

    // "123/469" batches of the phase
    private sealed class CountColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(string.Create(CultureInfo.InvariantCulture, $"{task.Value:0}/{task.MaxValue:0}"), new Style(Color.Grey));
    }

    // "ETA 0:01:23" (blank until the speed is known)
    private sealed class EtaColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            task.RemainingTime is { } t
                ? new Text(string.Create(CultureInfo.InvariantCulture, $"ETA {(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}"), new Style(Color.Blue))
                : new Text("ETA -:--:--", new Style(Color.Grey));
    }
}
