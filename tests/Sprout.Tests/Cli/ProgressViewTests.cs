using System.Diagnostics;
using Spectre.Console;
using Sprout.Cli;
using Xunit;

namespace Sprout.Tests.Cli;

/// <summary>The progress display: plain lines when off, a live Spectre bar with event lines above it when on.</summary>
public class ProgressViewTests
{
    // A Spectre console that believes it is an interactive ANSI terminal, writing into a string
    private static (IAnsiConsole Console, StringWriter Text) TerminalConsole()
    {
        var text = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.TrueColor,
            Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(text),
        });
        console.Profile.Width = 200; // one line per bar, however long the description
        return (console, text);
    }

    [Fact]
    public void PlainModeWritesOnlyTheEventAndSummaryLines()
    {
        var text = new StringWriter();
        using (var view = new ProgressView(text))
        {
            Assert.False(view.IsLive);
            view.BeginPhase("epoch 1", 100);
            for (int b = 1; b <= 100; b++) view.Advance(b, 1.0 / b, b / 100.0);
            view.Event("stage 0: +16 neurons");
            view.EndPhase("epoch 1: loss 0.0100, acc 100.00%");
            view.BeginPhase("epoch 2", 10);
            view.EndPhase(null); // no summary, no line
            Assert.Equal(0, view.Updates);
        }
        Assert.Equal("stage 0: +16 neurons\nepoch 1: loss 0.0100, acc 100.00%\n", text.ToString().ReplaceLineEndings("\n"));
        Assert.DoesNotContain('\u001b', text.ToString());
    }

    [Fact]
    public void LiveModeDrawsTheBarAndPrintsEventsAboveIt()
    {
        var (console, text) = TerminalConsole();
        using (var view = new ProgressView(console))
        {
            Assert.True(view.IsLive);
            view.BeginPhase("epoch 1", 50);
            view.Advance(25, 0.5, 0.8);
            view.Event("stage 0: +16 neurons");
            view.Advance(50, 0.25, 0.9); // the last batch always reaches the bar
            Assert.Equal(2, view.Updates);
            view.EndPhase("epoch 1 done");
        }
        string s = text.ToString();
        Assert.Contains('\u001b', s);               // cursor movement and colours: a live display
        Assert.Contains("epoch 1  loss 0.2500  acc 90.00%", s);
        Assert.Contains("50/50", s);
        Assert.Contains("stage 0: +16 neurons", s);
        Assert.Contains("epoch 1 done", s);
        Assert.True(s.IndexOf("stage 0: +16 neurons", StringComparison.Ordinal) < s.IndexOf("epoch 1 done", StringComparison.Ordinal));
    }

    [Fact]
    public void AdvanceEveryBatchUpdatesTheBarAtMostTenTimesASecond()
    {
        var (console, _) = TerminalConsole();
        using var view = new ProgressView(console);
        const int batches = 300_000;
        view.BeginPhase("epoch", batches);
        var sw = Stopwatch.StartNew();
        for (int b = 1; b < batches; b++) view.Advance(b, 0.1, 0.5);
        double seconds = sw.Elapsed.TotalSeconds;
        // the first call updates, then one per interval that has passed
        Assert.InRange(view.Updates, 1, 1 + (int)(seconds / ProgressView.UpdateInterval.TotalSeconds) + 1);
        int before = view.Updates;
        view.Advance(batches, 0.1, 0.5);
        Assert.Equal(before + 1, view.Updates); // the phase's last batch is never skipped
    }

    [Theory]
    [InlineData(false, false, "xterm-256color", true)]
    [InlineData(false, false, null, true)]
    [InlineData(true, false, "xterm-256color", false)]  // --no-progress
    [InlineData(false, true, "xterm-256color", false)]  // output redirected
    [InlineData(false, false, "dumb", false)]
    public void LiveOnlyOnARealTerminal(bool noProgress, bool redirected, string? term, bool live) =>
        Assert.Equal(live, ProgressView.ShouldBeLive(noProgress, redirected, term));

    [Fact]
    public void DescriptionShowsLossAndAccuracyWhenKnown()
    {
        Assert.Equal("epoch 3  loss 0.1235  acc 97.50%", ProgressView.Describe("epoch 3", 0.12345, 0.975));
        Assert.Equal("adjust", ProgressView.Describe("adjust", double.NaN, double.NaN));
    }
}
