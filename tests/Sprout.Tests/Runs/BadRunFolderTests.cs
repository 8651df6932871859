using System.Diagnostics;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Tests.Cli;
using Sprout.Training;
using Xunit;
using static Sprout.Tests.Runs.ResumeFixtures;

namespace Sprout.Tests.Runs;

/// <summary>
/// <c>sprout resume</c> of a damaged or foreign run folder gives one line on stderr and a non-zero exit — never a stack
/// trace or a hang — and leaves the folder's checkpoint as it was.
/// </summary>
[Collection("Workers")]
public class BadRunFolderTests
{
    private static readonly RunConfig Config = new("grow", "bad-folder", "spirals", Mlp("swe-plus"), TrainSamples: 500, ValidationFraction: 0.2);

    private static readonly Lazy<byte[][]> Unfinished = new(MakeUnfinished);

    /// <summary>config.json, metrics.csv, events.jsonl, last.ckpt, best.ckpt of a run stopped after its first stage.</summary>
    private static byte[][] MakeUnfinished() => OneThread(() =>
    {
        using var tmp = new TempFolder();
        string dir = tmp.Sub("run");
        var (full, test) = RunData.Load(Config.Dataset, null);
        var (train, val) = RunData.TrainValidation(full, Config.TrainSamples, Config.ValidationFraction, new Rng(Config.Growth.Seed).Fork("split"));
        var session = RunSession.Create(Config, dir);
        session.GrowthEventWritten = _ => session.Runner.Stop.Request();
        Assert.Throws<TrainingInterruptedException>(() => session.Run(train, val, test));
        return Files.Select(f => File.ReadAllBytes(Path.Combine(dir, f))).ToArray();
    });

    private static readonly string[] Files =
        [RunFiles.Config, RunFiles.Metrics, RunFiles.Events, Path.Combine(RunFiles.Checkpoints, "last.ckpt"), Path.Combine(RunFiles.Checkpoints, "best.ckpt")];

    /// <summary>A copy of the stopped run in a fresh folder.</summary>
    private static string Copy(TempFolder tmp)
    {
        string dir = tmp.Sub("run");
        Directory.CreateDirectory(Path.Combine(dir, RunFiles.Checkpoints));
        for (int i = 0; i < Files.Length; i++) File.WriteAllBytes(Path.Combine(dir, Files[i]), Unfinished.Value[i]);
        return dir;
    }

    private static void AssertResumeFails(string dir, string contains)
    {
        var (code, _, err) = CliHarness.Run("resume", dir, "--no-progress");
        Assert.Equal(1, code);
        CliHarness.AssertOneLineError(err, contains);
    }

    [Fact]
    public void TheIntactCopyResumes()
    {
        using var tmp = new TempFolder();
        string dir = Copy(tmp);
        var (code, output, err) = CliHarness.Run("resume", dir, "--no-progress");
        Assert.True(code == 0, err);
        Assert.Contains("resuming at the growth step of stage 2", output);
    }

    [Theory]
    [InlineData("{\"command\": \"grow\", \"name\": ", "config.json: not a run config")]
    [InlineData("[1, 2, 3]", "config.json: not a run config")]
    [InlineData("", "config.json: not a run config")]
    [InlineData("{\"command\": \"grow\", \"name\": \"x\", \"dataset\": \"spirals\", \"growth\": null}", "config.json")]
    [InlineData("{\"command\": \"grow\", \"name\": \"x\", \"dataset\": \"nope\", \"growth\": {\"widths\": [2, 8, 2], \"schedule\": {\"totals\": [1]}}}", "unknown data set 'nope'")]
    public void ACorruptConfigIsOneLine(string json, string contains)
    {
        using var tmp = new TempFolder();
        string dir = Copy(tmp);
        File.WriteAllText(Path.Combine(dir, RunFiles.Config), json);
        AssertResumeFails(dir, contains);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(100)]
    [InlineData(-1)]   // all but the last byte
    public void ATruncatedLastCheckpointIsOneLineAndStaysAsItWas(int keep)
    {
        using var tmp = new TempFolder();
        string dir = Copy(tmp);
        string last = RunFiles.LastCheckpoint(dir);
        var bytes = File.ReadAllBytes(last);
        var cut = bytes[..(keep >= 0 ? keep : bytes.Length - 1)];
        File.WriteAllBytes(last, cut);
        AssertResumeFails(dir, "last.ckpt");
        Assert.Equal(cut, File.ReadAllBytes(last));
    }

    [Fact]
    public void ACheckpointOfAnotherRunIsOneLine()
    {
        using var tmp = new TempFolder();
        string dir = Copy(tmp);
        // another seed's run: same network and schedule, so only the config tells the checkpoint apart
        var other = OneThread(() =>
        {
            var r = new GrowthRunner(Config.Growth with { Seed = 8 });
            var (train, val, _) = Spirals;
            CheckpointFile? ck = null;
            r.SafePoint = x =>
            {
                ck = x.Capture();
                x.Stop.Request();
            };
            Assert.Throws<TrainingInterruptedException>(() => r.Run(train, val));
            return ck!;
        });
        other.Metadata["run/metrics-bytes"] = "0";
        other.Metadata["run/events-bytes"] = "0";
        other.Metadata["run/best-val-loss"] = "1";
        other.Save(RunFiles.LastCheckpoint(dir));
        AssertResumeFails(dir, "belongs to another run");
    }

    [Fact]
    public void AModelCheckpointInPlaceOfTheRunsIsOneLine()
    {
        using var tmp = new TempFolder();
        string dir = Copy(tmp);
        File.Copy(RunFiles.BestCheckpoint(dir), RunFiles.LastCheckpoint(dir), overwrite: true);
        AssertResumeFails(dir, "has no metadata");
    }

    [Fact]
    public void AMetricsFileShorterThanTheCheckpointSaysIsOneLine()
    {
        using var tmp = new TempFolder();
        string dir = Copy(tmp);
        string metrics = Path.Combine(dir, RunFiles.Metrics);
        File.WriteAllLines(metrics, File.ReadAllLines(metrics).Take(2));
        AssertResumeFails(dir, "the run folder was altered");
    }

    [Fact]
    public void AMissingFolderOrOneWithoutAConfigIsOneLine()
    {
        using var tmp = new TempFolder();
        AssertResumeFails(tmp.Sub("nowhere"), "no such run folder");
        AssertResumeFails(tmp.Path, "is not a run folder");
    }

    [Theory(Timeout = 60_000)]
    [InlineData("metrics.csv")]
    [InlineData("events.jsonl")]
    [InlineData("checkpoints/last.ckpt")]
    [InlineData("config.json")]
    public async Task AFifoInTheRunFolderIsOneLineNotAHang(string file)
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("FIFOs are tested on Linux");
        using var tmp = new TempFolder();
        string dir = Copy(tmp);
        string fifo = Path.Combine(dir, file);
        File.Delete(fifo);
        using (var p = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!) p.WaitForExit();
        var ct = TestContext.Current.CancellationToken;
        var resume = Task.Run(() => CliHarness.Run("resume", dir, "--no-progress"), ct);
        if (await Task.WhenAny(resume, Task.Delay(TimeSpan.FromSeconds(30), ct)) != resume)
        {
            // release a blocked open (a reader or a writer) so the test process does not hang on it
            using (new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite)) { }
            Assert.Fail($"sprout resume blocked on a FIFO {file}");
        }
        var (code, _, err) = await resume;
        Assert.Equal(1, code);
        CliHarness.AssertOneLineError(err, "FIFO");
    }

    [Fact]
    public void TemporaryFilesLeftByAKilledWriterAreRemovedOnResumeAndNothingElse()
    {
        using var tmp = new TempFolder();
        string dir = Copy(tmp);
        string[] stale =
        [
            Path.Combine(dir, "report.json.tmp-4242"), Path.Combine(dir, RunFiles.Checkpoints, ".last.ckpt.tmp-4242-0a1b2c3d"),
            Path.Combine(dir, RunFiles.Checkpoints, ".best.ckpt.tmp-17-deadbeef"),
        ];
        string[] kept = [Path.Combine(dir, "notes.tmp-1"), Path.Combine(dir, RunFiles.Checkpoints, "mine.ckpt.tmp-3-00")];
        foreach (var f in stale.Concat(kept)) File.WriteAllText(f, "partial");
        var (code, _, err) = CliHarness.Run("resume", dir, "--no-progress");
        Assert.True(code == 0, err);
        Assert.All(stale, f => Assert.False(File.Exists(f), f));
        Assert.All(kept, f => Assert.True(File.Exists(f), f));
    }
}
