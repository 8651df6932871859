using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Xunit;
using static Sprout.Tests.Runs.ResumeFixtures;

namespace Sprout.Tests.Runs;

/// <summary>
/// Ctrl+C (SIGINT) on the CLI during training: the run stops at the next safe point, saves its checkpoint, prints one
/// line on stderr that says how to resume, and exits with 130; <c>sprout resume</c> then finishes it with the files of
/// a run that was never interrupted.
/// </summary>
public class InterruptTests
{
    private static string[] Grow(string dir) =>
        ["grow", "--dataset", "spirals", "--widths", "2-64-64-2", "--stages", "2", "--epochs", "3", "--seed", "4",
         "--threads", "1", "--no-progress", "--out", dir];

    [Fact(Timeout = 180_000)]
    public async Task CtrlCSavesPrintsOneLineExits130AndResumeFinishesBitIdentical()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("signals are tested on Linux");
        await Task.Run(() =>
        {
            using var tmp = new TempFolder();
            string expected = tmp.Sub("uninterrupted"), dir = tmp.Sub("interrupted");
            var (code, _, err) = CliProcess.Run(TimeSpan.FromSeconds(90), Grow(expected));
            Assert.True(code == 0, err);

            // SIGINT as soon as the first epoch has ended: the second epoch of the initial training is running
            using var epochEnded = new ManualResetEventSlim();
            using var p = CliProcess.Start(line =>
            {
                if (line.StartsWith("initial training, epoch 1:", StringComparison.Ordinal)) epochEnded.Set();
            }, Grow(dir));
            Assert.True(epochEnded.Wait(TimeSpan.FromSeconds(60)), "no epoch ended");
            Signal(p.Id, "INT");
            (code, var output, err) = p.Wait(TimeSpan.FromSeconds(60));

            Assert.Equal(130, code);
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.True(lines.Length == 1, "stderr: " + err);
            Assert.StartsWith("sprout: interrupted: stopped ", lines[0]);
            Assert.EndsWith($"continue with: sprout resume {dir}", lines[0]);
            Assert.DoesNotContain("done:", output);
            // the stop lands in training (checkpoint saved where it stopped) unless the signal came in a growth step,
            // which a resume repeats from the last checkpoint; either way the line says which
            var state = GrowthRunner.ReadState(CheckpointFile.Load(RunFiles.LastCheckpoint(dir)));
            TestContext.Current.TestOutputHelper?.WriteLine($"{lines[0]}\nlast checkpoint at {state.Describe()}");
            if (lines[0].Contains("during the growth step", StringComparison.Ordinal)) Assert.Contains("the last checkpoint stays", lines[0]);
            else Assert.Contains("checkpoint saved", lines[0]);
            Assert.True(state.Phase != GrowthPhase.Initial || state.EpochsDone >= 1, "the checkpoint is from before the first epoch's end");

            (code, output, err) = CliProcess.Run(TimeSpan.FromSeconds(90), "resume", dir, "--no-progress");
            Assert.True(code == 0, err);
            Assert.Contains($"resuming at {state.Describe(stages: 2)}", output);
            AssertSameRunFolder(expected, dir);
        }, TestContext.Current.CancellationToken);
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            UseShellExecute = false,
        })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}
