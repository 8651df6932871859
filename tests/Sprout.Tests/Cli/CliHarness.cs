using Xunit;

namespace Sprout.Tests.Cli;

/// <summary>Runs the CLI in process with stdout and stderr captured; restores the console and the worker count.</summary>
internal static class CliHarness
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var outW = new StringWriter();
        var errW = new StringWriter();
        var (o, e) = (Console.Out, Console.Error);
        int threads = Sprout.Kernels.Workers.Threads;
        Console.SetOut(outW);
        Console.SetError(errW);
        try { return (Sprout.Cli.Cli.Run(args), outW.ToString(), errW.ToString()); }
        finally
        {
            Console.SetOut(o);
            Console.SetError(e);
            Sprout.Kernels.Workers.Threads = threads;
        }
    }

    /// <summary>Exactly one non-empty line on stderr, in Sprout's form, containing <paramref name="contains"/>; no stack trace.</summary>
    public static void AssertOneLineError(string err, string contains)
    {
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Single(lines);
        Assert.StartsWith("sprout: error: ", lines[0]);
        Assert.Contains(contains, lines[0]);
        Assert.DoesNotContain("   at ", err);
    }
}
