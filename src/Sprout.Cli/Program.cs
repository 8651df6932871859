namespace Sprout.Cli;

internal static class Program
{
    private static int Main(string[] args) => Cluster.Run(args, Cli.Run);
}
