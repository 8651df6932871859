using System.Text.Json;
using Sprout.Runs;

namespace Sprout.Tests.Reporting;

/// <summary>What a fixture run looks like.</summary>
internal sealed record FixtureOptions
{
    public int Seed { get; init; } = 1;

    /// <summary>Growth steps (0: plain training, no events.jsonl).</summary>
    public int Stages { get; init; } = 3;

    public int InitialEpochs { get; init; } = 6;

    public int StageEpochs { get; init; } = 4;

    /// <summary>A two-epoch "adjust" phase of the whole model before each odd stage's training.</summary>
    public bool AdjustPhase { get; init; } = true;

    /// <summary>Validation (and one training accuracy) missing on some rows, one of them isolated.</summary>
    public bool WithNaN { get; init; }

    /// <summary>No validation at all (every val_* is NaN).</summary>
    public bool NoValidation { get; init; }

    /// <summary>report.json with "paper" figures beside ours.</summary>
    public bool Paper { get; init; }
}

/// <summary>
/// Writes realistic run folders through the Sprout.Runs records: a 784-16-16-10 MLP whose two hidden layers are
/// grown in a few stages with SWE/SVoD, with plausible losses, accuracies, times and growth diagnostics.
/// </summary>
internal static class RunFixtures
{
    public static readonly string[] Layers = ["fc1", "fc2"];

    public static long Parameters(int w1, int w2) => 784L * w1 + w1 + (long)w1 * w2 + w2 + w2 * 10L + 10;

    /// <summary>Writes a run folder at <paramref name="dir"/> and returns it.</summary>
    public static string WriteRun(string dir, FixtureOptions o)
    {
        Directory.CreateDirectory(dir);
        var rnd = new Random(o.Seed * 7919 + 17);
        double Noise(double s) => (rnd.NextDouble() * 2 - 1) * s;
        int[] widths = [16, 16];
        var lines = new List<string> { MetricsTable.Header(Layers) };
        var events = new List<GrowthEvent>();
        double seconds = 0, t = 0;
        int row = 0;

        void Epoch(int stage, string phase, int epoch, double bump)
        {
            t += 1;
            row++;
            seconds += 1.6 + widths.Sum() * 0.01 + Noise(0.1);
            double train = 0.16 + 1.9 * Math.Exp(-t / (3.0 + 0.3 * o.Seed)) + bump + Noise(0.015) + 0.01 * o.Seed;
            double val = train + 0.035 + Noise(0.012);
            double trainAcc = Math.Clamp(0.985 - 0.34 * train + Noise(0.003), 0, 1);
            double valAcc = Math.Clamp(trainAcc - 0.012 + Noise(0.004), 0, 1);
            if (o.NoValidation) val = valAcc = double.NaN;
            if (o.WithNaN && (row is 3 or 4 or 6)) val = valAcc = double.NaN; // a gap, and row 5 alone between NaNs
            if (o.WithNaN && row == 9) trainAcc = double.NaN;
            lines.Add(MetricsTable.Line(new MetricsRow(stage, phase, epoch, widths.ToArray(), Parameters(widths[0], widths[1]),
                train, trainAcc, val, valAcc, 1e-3, seconds)));
        }

        for (int e = 1; e <= o.InitialEpochs; e++) Epoch(0, "initial", e, 0);
        for (int s = 1; s <= o.Stages; s++)
        {
            int[] added = [4 + 2 * ((s + o.Seed) % 3), 2 + 2 * ((s * 2 + o.Seed) % 3)];
            double accBefore = 0.985 - 0.34 * (0.16 + 1.9 * Math.Exp(-t / 3.2));
            for (int l = 0; l < Layers.Length; l++)
            {
                int n = added[l];
                long pairs = (long)n * (n - 1) / 2;
                var hist = new int[20];
                for (long p = 0; p < pairs; p++)
                {
                    double c = Math.Clamp(0.08 + 0.22 * (rnd.NextDouble() + rnd.NextDouble() + rnd.NextDouble() - 1.5) * 1.6, -0.999, 0.999);
                    hist[(int)((c + 1) / 2 * 20)]++;
                }
                int inactive = (int)Math.Round(n * (0.2 + 0.1 * l + Noise(0.08)));
                events.Add(new GrowthEvent(s, Layers[l], widths[l], n, "swe", "svod", 0.4 + Noise(0.2), added.ToArray(),
                    Math.Abs(Noise(3e-6)), accBefore, accBefore + Noise(1e-4), inactive, Math.Max(0, inactive - 1 - rnd.Next(2)),
                    o.AdjustPhase && s % 2 == 1 ? 120 : 0, 0.08 + Noise(0.03), 0.55 + Noise(0.1), hist, 0.3 + Noise(0.05)));
            }
            widths = [widths[0] + added[0], widths[1] + added[1]];
            if (o.AdjustPhase && s % 2 == 1)
                for (int e = 1; e <= 2; e++) Epoch(s, "adjust", e, 0.02);
            for (int e = 1; e <= o.StageEpochs; e++) Epoch(s, "stage", e, e == 1 ? 0.03 : 0);
        }
        File.WriteAllLines(Path.Combine(dir, RunFiles.Metrics), lines);
        if (o.Stages > 0) File.WriteAllLines(Path.Combine(dir, RunFiles.Events), events.Select(e => e.ToJsonLine()));

        var config = new
        {
            name = "mlp-grow", seed = o.Seed,
            model = new { type = "mlp", sizes = new[] { 784, 16, 16, 10 }, activation = "relu" },
            data = new { set = "mnist", validation = o.NoValidation ? 0 : 5000, batchSize = 128 },
            optimizer = new { type = "adam", lr = 1e-3 },
            growth = o.Stages == 0 ? null : new
            {
                stages = o.Stages, neuronsPerStage = 12, extender = new { type = "swe" }, distributor = new { type = "svod" },
                initialEpochs = o.InitialEpochs, stageEpochs = o.StageEpochs,
            },
        };
        File.WriteAllText(Path.Combine(dir, RunFiles.Config), JsonSerializer.Serialize(config, RunFiles.JsonOptions));

        var report = new Dictionary<string, object?>
        {
            ["finalTestAccuracy"] = 0.951 + 0.002 * o.Seed,
            ["finalWidths"] = Layers.Zip(widths).ToDictionary(x => x.First, x => x.Second),
        };
        if (o.Paper)
            report["paper"] = new[]
            {
                new PaperNumber("000 Table 3", "MNIST, 2 hidden, SWE", "test accuracy %", 96.1, 0.2, 95.1 + 0.2 * o.Seed, double.NaN),
                new PaperNumber("000 Table 4", "MNIST, 2 hidden, SWE", "final width fc1", 40, double.NaN, widths[0], double.NaN),
            };
        File.WriteAllText(Path.Combine(dir, RunFiles.Report), JsonSerializer.Serialize(report, RunFiles.JsonOptions));
        return dir;
    }

    /// <summary>A run group: one run folder per seed (seed-1, seed-2, …) below <paramref name="dir"/>.</summary>
    public static string WriteGroup(string dir, int seeds, FixtureOptions o)
    {
        Directory.CreateDirectory(dir);
        for (int s = 1; s <= seeds; s++)
            WriteRun(Path.Combine(dir, $"seed-{s}"), o with { Seed = s, StageEpochs = o.StageEpochs + (s == 2 ? 1 : 0) });
        return dir;
    }
}
