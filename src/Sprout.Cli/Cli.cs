namespace Sprout.Cli;

internal static class Cli
{
    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "bench" && args.Length > 1 && args[1] == "gemm") return Bench.Gemm(args[2..]);
        Console.WriteLine("usage: sprout bench gemm");
        return 2;
    }
}
