using System.Diagnostics;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Xunit;
using static Sprout.Tests.Runs.ResumeFixtures;

namespace Sprout.Tests.Runs;

/// <summary>
/// The CLI killed with SIGKILL at seeded random moments of a small growth run — in training, in growth steps, while it
/// writes checkpoints and logs, during start-up — and resumed each time until it finishes, ends with the files of a
/// run that was never killed: every tensor of the last checkpoint, the best checkpoint, metrics.csv, events.jsonl and
/// report.json bit for bit (wall-clock figures aside). After every kill the folder's checkpoint still loads.
/// </summary>
public class KillResumeTests
{
    private const int MinKills = 5, Epochs = 6;

    // a few seconds: start-up, short epochs (a checkpoint and a metrics row after each), and growth steps with SWE's
    // adjustment phase
    private static string[] Grow(string dir) =>
        ["grow", "--dataset", "spirals", "--widths", "2-48-48-2", "--stages", "3", "--epochs", Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", "3",
         "--threads", "1", "--no-progress", "--out", dir];

    [Fact(Timeout = 180_000)]
    public async Task ARunKilledAtRandomMomentsAndResumedEachTimeEndsBitIdentical()
    {
        await Task.Run(() =>
        {
            var output = TestContext.Current.TestOutputHelper;
            using var tmp = new TempFolder();
            string expected = tmp.Sub("uninterrupted");
            // the uninterrupted run, timed: its start-up (until the first line, when the data is loaded) and its length
            var clock = Stopwatch.StartNew();
            double startMs = 0;
            using (var reference = CliProcess.Start(_ =>
                   {
                       if (startMs == 0) startMs = clock.Elapsed.TotalMilliseconds;
                   }, Grow(expected)))
            {
                var (code, _, err) = reference.Wait(TimeSpan.FromSeconds(90));
                Assert.True(code == 0, err);
            }
            double runMs = clock.Elapsed.TotalMilliseconds;
            output?.WriteLine($"uninterrupted: {runMs:F0} ms, start-up {startMs:F0} ms");
            // one run killed and resumed until it finishes; should a heavily loaded machine let it finish after fewer
            // than MinKills kills, another run is killed the same way (each is compared in full)
            var random = new Random(20240611);
            int kills = 0;
            for (int round = 1; kills < MinKills; round++)
            {
                Assert.True(round <= 3, $"only {kills} kills in {round - 1} runs");
                string dir = tmp.Sub($"killed-{round}");
                kills += KillUntilFinished(dir, random, startMs, output);
                AssertSameRunFolder(expected, dir);
                var leftovers = Directory.GetFiles(dir, "*.tmp-*", SearchOption.AllDirectories);
                Assert.True(leftovers.Length == 0, "temporary files left: " + string.Join(", ", leftovers.Select(Path.GetFileName)));
            }
        }, TestContext.Current.CancellationToken);
    }

    /// <summary>Runs the CLI on <paramref name="dir"/>, killing and resuming it, until it finishes; returns the kills.</summary>
    private static int KillUntilFinished(string dir, Random random, double startMs, ITestOutputHelper? output)
    {
        // Kills are placed by the run's progress, not by the clock. An attempt waits for 2–3 epoch-end lines (each is
        // printed right before that epoch's metrics row and checkpoints are written, so the second one means a safe point
        // was passed since the start, across a growth step too, which a resume repeats whole), then 0–3 ms (into the
        // writes) or 0–20 ms (into the next epoch) more — or, after a phase's last epoch, 0–300 ms (into the stage's
        // end, its events and checkpoint, or the growth step) — and is killed; one attempt in four is killed right as
        // the run writes a checkpoint instead (its temporary file has appeared). Up to two attempts are killed at a
        // random moment of their start-up (loading the checkpoint, cutting the logs back). The run's 24 epochs take
        // many attempts.
        int kills = 0, startupKills = 0, midWrite = 0;
        for (int attempt = 1; ; attempt++)
        {
            Assert.True(attempt <= 100, $"the run did not finish after {attempt - 1} attempts");
            string[] args = RunFiles.IsRun(dir) ? ["resume", dir, "--no-progress"] : Grow(dir);
            int epochs = random.Next(2, 4);
            bool inStartup = startupKills < 2 && random.Next(6) == 0;
            int startupMs = (int)(random.NextDouble() * startMs);
            int shortMs = random.Next(2) == 0 ? random.Next(0, 4) : random.Next(0, 21), longMs = random.Next(0, 301);
            bool inWrite = !inStartup && random.Next(4) == 0;
            int seen = 0;
            string last = "";
            using var p = CliProcess.Start(line =>
            {
                if (!line.Contains(", epoch ", StringComparison.Ordinal) || !line.Contains(": loss ", StringComparison.Ordinal)) return;
                Volatile.Write(ref last, line);
                Interlocked.Increment(ref seen);
            }, args);
            if (!inStartup)
                while (Volatile.Read(ref seen) < epochs && !p.HasExited) Thread.Sleep(1);
            int extraMs = inStartup ? startupMs : Volatile.Read(ref last).Contains($"epoch {Epochs}:", StringComparison.Ordinal) ? longMs : shortMs;
            // or right as the run writes its next checkpoint (its temporary file has appeared)
            if (inWrite) extraMs = WaitForCheckpointWrite(dir, p);
            if (!p.WaitFor(extraMs))
            {
                p.Kill();
                kills++;
                if (inStartup) startupKills++;
                bool partial = Directory.Exists(dir) && Directory.GetFiles(dir, "*.tmp-*", SearchOption.AllDirectories).Length > 0;
                if (partial) midWrite++;
                string when = inStartup ? $"{extraMs} ms into start-up"
                    : inWrite ? $"as a checkpoint was written after {epochs} epochs (last: {last[..Math.Min(last.Length, 32)]})"
                    : $"{extraMs} ms after {epochs} epochs (last: {last[..Math.Min(last.Length, 32)]})";
                output?.WriteLine($"attempt {attempt}: {args[0]}, killed {when}{(partial ? " while writing a file" : "")}; {Where(dir)}");
                // kill-safety: whatever the moment, the folder's checkpoints are whole (their checksums hold)
                if (File.Exists(RunFiles.LastCheckpoint(dir))) CheckpointFile.Load(RunFiles.LastCheckpoint(dir));
                if (File.Exists(RunFiles.BestCheckpoint(dir))) CheckpointFile.Load(RunFiles.BestCheckpoint(dir));
                continue;
            }
            var (c, o, e) = p.Wait(TimeSpan.FromSeconds(90));
            Assert.True(c == 0, $"attempt {attempt} ({args[0]}) exit {c}: {e}\n{o}");
            output?.WriteLine($"attempt {attempt}: {args[0]}, finished");
            // finished (or killed after its last checkpoint, and the resume found it finished)
            if (o.Contains("done:", StringComparison.Ordinal) || o.Contains("has finished already", StringComparison.Ordinal)) break;
        }
        output?.WriteLine($"{kills} kills, {startupKills} in start-up, {midWrite} while a file was being written");
        return kills;
    }

    // Polls the checkpoints folder until a checkpoint's temporary file appears (at most a second); returns 0 (kill now).
    private static int WaitForCheckpointWrite(string dir, CliProcess p)
    {
        string folder = Path.Combine(dir, RunFiles.Checkpoints);
        var clock = Stopwatch.StartNew();
        while (!p.HasExited && clock.ElapsedMilliseconds < 1000)
        {
            if (Directory.Exists(folder) && Directory.EnumerateFiles(folder, ".*.tmp-*").Any()) break;
            Thread.SpinWait(100);
        }
        return 0;
    }

    // where the run was when it was killed: its last checkpoint's position (for the test's log)
    private static string Where(string dir)
    {
        if (!RunFiles.IsRun(dir)) return "before config.json";
        string last = RunFiles.LastCheckpoint(dir);
        return File.Exists(last) ? "last checkpoint at " + GrowthRunner.ReadState(CheckpointFile.Load(last)).Describe() : "no checkpoint yet";
    }
}
