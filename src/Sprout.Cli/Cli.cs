using System.Text.Json;
using Sprout.Training;
using Sprout.Kernels;

namespace Sprout.Cli;

internal static class Cli
{
    public const string Usage = """
        sprout — grow neural networks while they train

        usage:
          sprout run [--dataset mnist|fashion-mnist] [--extender E] [--distributor D] [--stages N]
                     [--grow-percent P] [--epochs N] [--seed S] [--threads T] [--config FILE.json] [--save FILE]
                                                              fetch data if missing, grow an MLP, report (the main job)
          sprout experiment <swe-inactive|swe-deep|grow> …    the papers' experiments (sprout experiment --help)
          sprout data fetch <mnist|fashion-mnist|cifar10|cifar100> [--data-dir D]
          sprout data info <name> [--data-dir D]              sizes, class histogram, pixel mean/std
          sprout bench gemm [--json] [--threads T]            GEMM GFLOP/s
          sprout bench mlp [--json] [--quick] [--no-torch] [--models 784-20-10,…] [--batches 64,…] [--reps N] [--threads 1,2]
                                                              s/epoch vs PyTorch, same run
          sprout bench cnn [--json] [--no-torch] [--profile] [--no-winograd]
                                                              conv-net step vs PyTorch, per-layer conv figures
          sprout bench step [--model 784-120-10] [--batch 64] time per layer and phase of a training step
          sprout --help

        Every run is reproducible: the same --seed and --threads give bit-identical results.
        """;

    public static int Run(string[] args)
    {
        try
        {
            if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
            {
                Console.WriteLine(Usage);
                return args.Length == 0 ? 2 : 0;
            }
            return args[0] switch
            {
                "run" => RunCommand.Execute(args[1..]),
                "bench" => BenchCommands.Execute(args[1..]),
                "data" => DataCommands.Run(args[1..]),
                "experiment" => ExperimentCommands.Run(args[1..]),
                _ => throw new UsageException($"unknown command '{args[0]}' (see sprout --help)"),
            };
        }
        catch (Exception e) when (e is Sprout.Data.DataFormatException or Sprout.Nn.CheckpointException)
        {
            Console.Error.WriteLine($"sprout: error: {OneLine(e.Message)}");
            return 1;
        }
        catch (Exception e) when (e is UsageException or ArgumentException or InvalidOperationException or IOException
                                      or UnauthorizedAccessException or JsonException or TrainingDivergedException or FormatException or NotSupportedException)
        {
            Console.Error.WriteLine($"sprout: error: {OneLine(e.Message)}");
            return e is UsageException ? 2 : 1;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("SPROUT_DEBUG") is null)
        {
            Console.Error.WriteLine($"sprout: internal error: {e.GetType().Name}: {OneLine(e.Message)} (set SPROUT_DEBUG=1 for a stack trace)");
            return 70;
        }
    }

    /// <summary>Writes a file so that a reader never sees a partial one: a temporary file in the same folder, then a rename.</summary>
    public static void WriteAtomically(string path, string text)
    {
        string tmp = path + ".tmp-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');

    /// <summary>Applies --threads (default: all cores) and returns it.</summary>
    public static int ApplyThreads(Args a)
    {
        int t = a.Int("threads", Environment.ProcessorCount, 1, 256);
        Workers.Threads = t;
        return t;
    }
}
