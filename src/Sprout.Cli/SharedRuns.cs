using Sprout.Experiments;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>
/// The independent runs of an experiment or sweep shared out over the ranks of an MPI job (docs/cluster.md). Without a
/// job it just runs the body. In a job of N ranks: every rank runs the body with <see cref="ExperimentRuns.Sharing"/>,
/// so each runs its fixed share of the runs (unit i on rank i mod N, each in its own run folder with its own
/// checkpoints) and skips the rest; the ranks then exchange their outcomes; when every run has finished, rank 0 runs the
/// body again alone — every run folder now holds a finished run, which is read back, not trained — and writes the one
/// report, exactly as a serial run of the command would. Rerunning the same command skips finished runs and resumes
/// interrupted ones, so a rank killed mid-sweep costs only its unfinished run.
/// </summary>
internal static class SharedRuns
{
    /// <summary>The body's result on a rank other than 0 once its share is done: the command ends there (exit 0).</summary>
    public const int OtherRankDone = -1;

    /// <summary>Runs <paramref name="body"/> (returns an exit code), shared over the ranks when in a job.</summary>
    public static int Run(Func<int> body)
    {
        var world = Cluster.World;
        if (world is null) return body();
        var share = new RunShare(world.Rank, world.Size);
        int code;
        using (ExperimentRuns.Sharing(share)) code = body();
        // every rank's exit code and failed runs, on every rank (after this the ranks agree on the outcome)
        string mine = code.ToString(System.Globalization.CultureInfo.InvariantCulture) + string.Concat(share.Failures.Select(f =>
            $"\n{Clean(f.Name)}\t{Clean(f.Directory)}\t{Clean(f.Message)}"));
        var all = world.AllGather(mine);
        Cluster.ExitAgreed = true;
        int worst = 0;
        var failed = new List<string>();
        for (int r = 0; r < all.Length; r++)
        {
            var lines = all[r].Split('\n');
            int c = int.Parse(lines[0], System.Globalization.CultureInfo.InvariantCulture);
            if (c != 0 && worst == 0) worst = c;
            foreach (var line in lines.Skip(1))
            {
                var f = line.Split('\t');
                failed.Add($"sprout: error: run {f[0]} failed on rank {r}: {f[2]} (run folder {f[1]}; rerun the same command to retry it)");
            }
        }
        if (failed.Count > 0)
        {
            if (world.Rank == 0) foreach (var line in failed) Console.Error.WriteLine(line);
            return 1;
        }
        if (worst != 0) return worst;
        if (world.Rank != 0)
        {
            Console.WriteLine($"this rank's share is done ({RunsOf(share)}); rank 0 writes the report");
            return OtherRankDone;
        }
        Console.WriteLine($"every rank's share is done; rank 0 reads the {share.Units} run(s) back for the report");
        return body();
    }

    private static string RunsOf(RunShare share)
    {
        int mine = share.Units / share.Size + (share.Rank < share.Units % share.Size ? 1 : 0);
        return $"{mine} of {share.Units} runs";
    }

    private static string Clean(string s) => s.Replace('\t', ' ').Replace('\n', ' ');
}
