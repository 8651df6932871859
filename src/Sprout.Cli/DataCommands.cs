using System.Diagnostics;
using System.Globalization;
using Sprout.Data;

namespace Sprout.Cli;

/// <summary>
/// <c>sprout data fetch|info|bench</c>. Errors are one line on stderr and exit code 1; usage errors exit 2.
/// </summary>
internal static class DataCommands
{
    private const string Usage =
        "usage: sprout data fetch <mnist|fashion-mnist|cifar10|cifar100> [--data-dir DIR]\n" +
        "       sprout data info  <name> [--data-dir DIR]\n" +
        "       sprout data bench [<name>] [--data-dir DIR] [--batch N] [--epochs N]\n" +
        "data folder: --data-dir, else $SPROUT_DATA, else $XDG_CACHE_HOME/sprout/data or ~/.cache/sprout/data";

    /// <summary>Runs a data command; <paramref name="args"/> are the arguments after <c>sprout data</c>.</summary>
    public static int Run(string[] args)
    {
        try
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                Console.WriteLine(Usage);
                return args.Length == 0 ? 2 : 0;
            }
            var (positional, options) = Parse(args[1..]);
            string dataDir = DataDirectory.Resolve(options.GetValueOrDefault("data-dir"));
            switch (args[0])
            {
                case "fetch":
                    if (positional.Count != 1) return UsageError("fetch needs exactly one data set name");
                    return Fetch(positional[0], dataDir);
                case "info":
                    if (positional.Count != 1) return UsageError("info needs exactly one data set name");
                    return Info(positional[0], dataDir);
                case "bench":
                    if (positional.Count > 1) return UsageError("bench takes at most one data set name");
                    return Bench(positional.Count == 1 ? positional[0] : null, dataDir,
                        ParseInt(options, "batch", 64), ParseInt(options, "epochs", 3));
                default:
                    return UsageError($"unknown data command '{args[0]}'");
            }
        }
        catch (DataFormatException e) { return Fail(e.Message); }
        catch (ArgumentException e) { return Fail(e.Message); }
        catch (IOException e) { return Fail(e.Message); }
        catch (UnauthorizedAccessException e) { return Fail(e.Message); }
        catch (FormatException e) { return Fail(e.Message); }
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

    private static (List<string> Positional, Dictionary<string, string> Options) Parse(string[] args)
    {
        var pos = new List<string>();
        var opts = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                string key = a[2..];
                string? value = null;
                int eq = key.IndexOf('=', StringComparison.Ordinal);
                if (eq >= 0) { value = key[(eq + 1)..]; key = key[..eq]; }
                else if (i + 1 < args.Length) value = args[++i];
                if (value is null) throw new ArgumentException($"option --{key} needs a value");
                if (key is not ("data-dir" or "batch" or "epochs")) throw new ArgumentException($"unknown option --{key}");
                opts[key] = value;
            }
            else pos.Add(a);
        }
        return (pos, opts);
    }

    private static int ParseInt(Dictionary<string, string> opts, string key, int fallback)
    {
        if (!opts.TryGetValue(key, out var v)) return fallback;
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n <= 0)
            throw new ArgumentException($"--{key} must be a positive integer, got '{v}'");
        return n;
    }

    private static int UsageError(string message)
    {
        Console.Error.WriteLine("sprout data: " + message);
        Console.Error.WriteLine(Usage);
        return 2;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("sprout data: " + message.ReplaceLineEndings(" "));
        return 1;
    }
}
