using System.Globalization;
using System.Text;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>
/// Whether this process is one rank of a job that <c>mpiexec -n N</c> (or Slurm's <c>srun</c> with PMI) started, and the
/// job's MPI world when it is (docs/cluster.md). Without a launcher — no <c>PMI_RANK</c>/<c>PMI_SIZE</c>/<c>PMIX_RANK</c>
/// in the environment, or a job of one rank — MPI is never started nor loaded and every command runs as in one process.
/// Under a launcher: <c>experiment …</c> and <c>sweep</c> share their runs out over the ranks, <c>run</c>, <c>grow</c>,
/// <c>train</c> (with <c>--data-parallel</c>) and <c>resume</c> train one run over all of them.
/// </summary>
internal static class Cluster
{
    /// <summary>The job's world when this process is one of two or more ranks, else null.</summary>
    public static ICommunicator? World { get; private set; }

    /// <summary>
    /// Set by a command whose exit code every rank has agreed on (after its last collective): the ranks then end MPI
    /// normally. A non-zero exit code not agreed on ends the whole job (MPI_Abort), so no rank waits forever in a
    /// collective for a rank that has left.
    /// </summary>
    public static bool ExitAgreed { get; set; }

    /// <summary>Ranks the launcher started, from its environment (1 without one).</summary>
    public static int LaunchedRanks()
    {
        foreach (var name in new[] { "PMI_SIZE", "PMIX_SIZE", "OMPI_COMM_WORLD_SIZE" })
            if (int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0)
                return n;
        return 1;
    }

    /// <summary>Runs the command line <paramref name="args"/> with <paramref name="run"/>, inside MPI when launched by mpiexec.</summary>
    public static int Run(string[] args, Func<string[], int> run)
    {
        if (LaunchedRanks() <= 1) return run(args);
        return RunInWorld(args, run);
    }

    // separate method: MPI.NET is loaded (JIT of MpiWorld) only on this path
    private static int RunInWorld(string[] args, Func<string[], int> run)
    {
        MpiWorld world;
        try
        {
            world = new MpiWorld();
        }
        catch (Exception e) when (e is IOException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            Console.Error.WriteLine($"sprout: error: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
        World = world;
        var stdout = Console.Out;
        if (world.Rank > 0) Console.SetOut(new RankWriter(stdout, world.Rank));
        int code;
        try
        {
            code = run(args);
        }
        finally
        {
            Console.Out.Flush();
            Console.SetOut(stdout);
        }
        // usage errors (2) come from the command line, the same on every rank, before any collective
        if (code is 0 or 2 || ExitAgreed)
        {
            world.Dispose();
            return code;
        }
        Console.Error.Flush();
        world.Abort(code);
        return code;
    }

    /// <summary>
    /// Quiets a rank other than 0 for a command that runs one run over all ranks (rank 0 prints its progress and result).
    /// </summary>
    public static void QuietOtherRanks()
    {
        if (World is { Rank: > 0 }) Console.SetOut(TextWriter.Null);
    }

    /// <summary>The prefix of a rank's error lines: "sprout: " on rank 0 or alone, "sprout: rank r: " on others.</summary>
    public static string Who => World is { Rank: > 0 } w ? $"sprout: rank {w.Rank}: " : "sprout: ";

    // Every line of a rank other than 0 starts with "[rank r] ", so the interleaved output of the ranks stays readable.
    private sealed class RankWriter(TextWriter inner, int rank) : TextWriter
    {
        private readonly string _prefix = $"[rank {rank}] ";
        private bool _lineStart = true;

        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            if (_lineStart && value != '\n') inner.Write(_prefix);
            inner.Write(value);
            _lineStart = value == '\n';
        }

        public override void Write(string? value)
        {
            if (value is null) return;
            foreach (char ch in value) Write(ch);
        }

        public override void Flush() => inner.Flush();
    }
}
