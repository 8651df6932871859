using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sprout.Data;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Runs;
using Sprout.Tensors;
using Sprout.Tests.Data;
using Xunit;

namespace Sprout.Tests.Fuzz;

/// <summary>
/// Every reader against a few hundred seeded mutations of a valid file (bit flips, truncations, extensions, length
/// fields set to huge or negative values, swapped dimensions, number tokens replaced, and — for checkpoints —
/// mutations sealed with a recomputed checksum so they reach the parser). Each input must end in the reader's
/// documented exception type (or load), never another exception, a hang, or more than 64 MB allocated.
/// </summary>
public class ReaderFuzzTests
{
    private const int Mutations = 300;
    private const long MaxAllocation = 64L << 20;

    /// <summary>A length field of a binary format: where it is, its width and byte order.</summary>
    private sealed record Field(int Offset, int Size, bool BigEndian);

    private static readonly long[] Extremes =
        [0, 1, -1, int.MaxValue, int.MinValue, uint.MaxValue, 0x7FFFFFC7, 1L << 31, 1L << 32, long.MaxValue, long.MinValue, 65536, 28 * 28 + 1];

    private static readonly string[] Tokens =
        ["2147483647", "-1", "-2147483648", "0", "4294967296", "99999999999999999999", "1e308", "-0", "1.5", "NaN", "\"x\"", "null", "[]", "{}", "true", "65536", "3000000"];

    private static readonly Regex Number = new(@"-?\d+(\.\d+)?([eE][-+]?\d+)?", RegexOptions.Compiled);

    private static byte[] MutateBytes(byte[] seed, Rng rng, IReadOnlyList<Field> fields)
    {
        var b = (byte[])seed.Clone();
        switch (rng.NextInt(fields.Count > 0 ? 9 : 7))
        {
            case 0: // flip 1–8 bits
                if (b.Length == 0) return [1];
                for (int k = 1 + rng.NextInt(8); k > 0; k--) b[rng.NextInt(b.Length)] ^= (byte)(1 << rng.NextInt(8));
                return b;
            case 1: // truncate
                return b[..rng.NextInt(b.Length + 1)];
            case 2: // extend
            {
                var tail = new byte[1 + rng.NextInt(64)];
                if (rng.NextInt(2) == 0) for (int i = 0; i < tail.Length; i++) tail[i] = (byte)rng.NextInt(256);
                return [.. b, .. tail];
            }
            case 3: // overwrite a run with random bytes
            {
                if (b.Length == 0) return b;
                int at = rng.NextInt(b.Length), n = Math.Min(b.Length - at, 1 + rng.NextInt(16));
                for (int i = 0; i < n; i++) b[at + i] = (byte)rng.NextInt(256);
                return b;
            }
            case 4: // duplicate a slice
            {
                if (b.Length == 0) return b;
                int at = rng.NextInt(b.Length), n = Math.Min(b.Length - at, 1 + rng.NextInt(256));
                return [.. b[..(at + n)], .. b[at..]];
            }
            case 5: return [];
            case 6: // cut out a slice
            {
                if (b.Length == 0) return b;
                int at = rng.NextInt(b.Length), n = Math.Min(b.Length - at, 1 + rng.NextInt(64));
                return [.. b[..at], .. b[(at + n)..]];
            }
            case 7: // a length field set to an extreme or nearby value
            {
                var f = fields[rng.NextInt(fields.Count)];
                if (f.Offset + f.Size > b.Length) return b;
                long old = Read(b, f);
                long v = rng.NextInt(3) == 0 ? old + rng.NextInt(5) - 2 : Extremes[rng.NextInt(Extremes.Length)];
                Write(b, f, v);
                return b;
            }
            default: // two length fields swapped
            {
                var f = fields[rng.NextInt(fields.Count)];
                var g = fields[rng.NextInt(fields.Count)];
                if (f.Offset + f.Size > b.Length || g.Offset + g.Size > b.Length) return b;
                long x = Read(b, f), y = Read(b, g);
                Write(b, f, y);
                Write(b, g, x);
                return b;
            }
        }
    }

    private static long Read(byte[] b, Field f) => f.Size == 8
        ? (long)BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(f.Offset))
        : f.BigEndian ? BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(f.Offset)) : BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(f.Offset));

    private static void Write(byte[] b, Field f, long v)
    {
        if (f.Size == 8) BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(f.Offset), v);
        else if (f.BigEndian) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(f.Offset), unchecked((int)v));
        else BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(f.Offset), unchecked((int)v));
    }

    /// <summary>Replaces one number (or deletes/inserts a character) in a text file.</summary>
    private static string MutateText(string text, Rng rng)
    {
        var numbers = Number.Matches(text);
        switch (rng.NextInt(4))
        {
            case 0 or 1 when numbers.Count > 0:
            {
                var m = numbers[rng.NextInt(numbers.Count)];
                return text[..m.Index] + Tokens[rng.NextInt(Tokens.Length)] + text[(m.Index + m.Length)..];
            }
            case 2 when text.Length > 0:
            {
                int at = rng.NextInt(text.Length);
                return text[..at] + text[(at + 1)..];
            }
            default:
            {
                int at = rng.NextInt(text.Length + 1);
                string[] bits = ["{", "}", "[", "]", "\"", ",", ":", "\\", "\n", "\u00e9", "\0"];
                return text[..at] + bits[rng.NextInt(bits.Length)] + text[at..];
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="read"/> on <see cref="Mutations"/> mutations of <paramref name="seed"/>; every exception
    /// must be one of <paramref name="allowed"/> and every input must allocate less than 64 MB on this thread.
    /// </summary>
    private static async Task Fuzz(string name, byte[] seed, Action<string> read, Type[] allowed,
        Func<byte[], Rng, byte[]> mutate)
    {
        await Task.Run(() =>
        {
            using var dir = new TempDir();
            string path = dir.File(name);
            // the seed itself must load
            File.WriteAllBytes(path, seed);
            read(path);
            var rng = new Rng(0xF022).Fork(name);
            int rejected = 0;
            for (int i = 0; i < Mutations; i++)
            {
                var bytes = mutate(seed, rng);
                File.WriteAllBytes(path, bytes);
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    read(path);
                }
                catch (Exception e) when (allowed.Any(t => t.IsInstanceOfType(e)))
                {
                    rejected++;
                    Assert.False(e.Message.Contains('\n'), $"{name} mutation {i}: {e.GetType().Name} message is not one line: {e.Message}");
                }
                catch (Exception e)
                {
                    Assert.Fail($"{name} mutation {i} ({bytes.Length} bytes): {e.GetType().Name}: {e.Message}");
                }
                long used = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(used < MaxAllocation, $"{name} mutation {i}: {used:N0} bytes allocated");
            }
            Assert.True(rejected > Mutations / 4, $"{name}: only {rejected} of {Mutations} mutations were rejected");
        });
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(raw);
        return ms.ToArray();
    }

    private static byte[] Idx(int magic, int[] dims, byte[] data)
    {
        var b = new byte[4 + 4 * dims.Length + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(b, 4 + 4 * dims.Length);
        return b;
    }

    private static readonly Field[] IdxImageFields = [new(0, 4, true), new(4, 4, true), new(8, 4, true), new(12, 4, true)];

    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task IdxImages(bool gzip)
    {
        using var dir = new TempDir();
        string labels = dir.File("labels");
        File.WriteAllBytes(labels, Idx(IdxReader.LabelsMagic, [12], [.. Enumerable.Range(0, 12).Select(i => (byte)(i % 10))]));
        var raw = Idx(IdxReader.ImagesMagic, [12, 28, 28], Fixtures.Pixels(12, 784));
        // raw: mutate the bytes; gzip: mutate the raw content and compress it, or mutate the compressed bytes
        Func<byte[], Rng, byte[]> mutate = gzip
            ? (s, r) => r.NextInt(2) == 0 ? Gzip(MutateBytes(raw, r, IdxImageFields)) : MutateBytes(s, r, [])
            : (s, r) => MutateBytes(s, r, IdxImageFields);
        await Fuzz("images" + (gzip ? ".gz" : ""), gzip ? Gzip(raw) : raw,
            p => IdxReader.Load("t", p, labels, 10, 28, 28), [typeof(DataFormatException)], mutate);
    }

    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task IdxLabels(bool gzip)
    {
        using var dir = new TempDir();
        string images = dir.File("images");
        File.WriteAllBytes(images, Idx(IdxReader.ImagesMagic, [40, 2, 3], Fixtures.Pixels(40, 6)));
        var raw = Idx(IdxReader.LabelsMagic, [40], [.. Enumerable.Range(0, 40).Select(i => (byte)(i % 10))]);
        Field[] fields = [new(0, 4, true), new(4, 4, true)];
        Func<byte[], Rng, byte[]> mutate = gzip
            ? (s, r) => r.NextInt(2) == 0 ? Gzip(MutateBytes(raw, r, fields)) : MutateBytes(s, r, [])
            : (s, r) => MutateBytes(s, r, fields);
        await Fuzz("labels" + (gzip ? ".gz" : ""), gzip ? Gzip(raw) : raw,
            p => IdxReader.Load("t", images, p, 10, 2, 3), [typeof(DataFormatException)], mutate);
    }

    [Theory(Timeout = 120_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CifarBinary(bool hundred)
    {
        var seed = hundred ? Fixtures.CifarBytes([99, 3], [19, 4]) : Fixtures.CifarBytes([3, 9, 0], null);
        await Fuzz(hundred ? "train.bin" : "data_batch_1.bin", seed,
            p => { if (hundred) CifarReader.ReadCifar100("c", p); else CifarReader.ReadCifar10("c", p); },
            [typeof(DataFormatException)], (s, r) => r.NextInt(5) == 0 ? Gzip(MutateBytes(s, r, [])) : MutateBytes(s, r, []));
    }

    private static readonly SequentialConfig CheckpointModel = new([new LinearConfig(6, 5), new BatchNormConfig(5),
        new ActivationConfig(ActivationKind.Relu), new DropoutConfig(0.1f), new LinearConfig(5, 3)]);

    private static void ReadCheckpoint(string path)
    {
        var ck = CheckpointFile.Load(path);
        ck.LoadModule("", CheckpointModel.Build(new Rng(1)));
        if (ck.Metadata.ContainsKey("architecture")) ck.BuildModule();
    }

    /// <summary>A new-format file rebuilt around a (mutated) header, padded, with its checksum recomputed.</summary>
    private static byte[] Seal(string headerJson, ReadOnlySpan<byte> data)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        int n = (header.Length + 7) / 8 * 8;
        var file = new byte[8 + n + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)n);
        header.CopyTo(file, 8);
        file.AsSpan(8 + header.Length, n - header.Length).Fill((byte)' ');
        data.CopyTo(file.AsSpan(8 + n));
        var m = Regex.Match(headerJson, "\"checksum\":\"([0-9a-f]{64})\"");
        if (m.Success)
        {
            int at = 8 + Encoding.UTF8.GetByteCount(headerJson[..m.Groups[1].Index]);
            file.AsSpan(at, 64).Fill((byte)'0');
            Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(file))).CopyTo(file, at);
        }
        return file;
    }

    [Fact(Timeout = 120_000)]
    public async Task CheckpointNewFormat()
    {
        using var dir = new TempDir();
        var net = CheckpointModel.Build(new Rng(3));
        string path = dir.File("seed.ckpt");
        Checkpoint.Save(net, path);
        var seed = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(seed);
        string header = Encoding.UTF8.GetString(seed, 8, n).TrimEnd(' ');
        var data = seed.AsSpan(8 + n).ToArray();
        await Fuzz("model.ckpt", seed, ReadCheckpoint, [typeof(CheckpointException)], (s, r) => r.NextInt(2) == 0
            ? MutateBytes(s, r, [new(0, 8, false)])
            : Seal(MutateText(header, r), r.NextInt(4) == 0 ? MutateBytes(data, r, []) : data)); // past the checksum
    }

    private static byte[] OldFormat(IEnumerable<(string Name, int[] Shape, float[] Data)> entries, out List<Field> fields)
    {
        fields = [new(8, 4, false), new(12, 4, false)];
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            var list = entries.ToList();
            w.Write("SPROUTCK"u8.ToArray());
            w.Write(1);
            w.Write(list.Count);
            foreach (var (name, shape, values) in list)
            {
                w.Write(name);
                w.Flush();
                fields.Add(new((int)ms.Position, 4, false)); // rank
                w.Write(shape.Length);
                foreach (int d in shape)
                {
                    w.Flush();
                    fields.Add(new((int)ms.Position, 4, false));
                    w.Write(d);
                }
                foreach (float v in values) w.Write(v);
            }
        }
        return Reseal(ms.ToArray());
    }

    /// <summary>Content plus its FNV-1a 64 trailer (recomputed, so a mutation reaches the parser).</summary>
    private static byte[] Reseal(byte[] content)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in content) { h ^= b; h *= 1099511628211UL; }
        return [.. content, .. BitConverter.GetBytes(h)];
    }

    [Fact(Timeout = 120_000)]
    public async Task CheckpointOldFormat()
    {
        var net = CheckpointModel.Build(new Rng(3));
        var seed = OldFormat(net.NamedParameters().Concat(net.NamedBuffers()).Select(p => (p.Item1, p.Item2.ShapeArray(), p.Item2.ToArray())), out var fields);
        var content = seed[..^8];
        await Fuzz("old.ckpt", seed, p => CheckpointFile.Load(p).LoadModule("", CheckpointModel.Build(new Rng(1))),
            [typeof(CheckpointException)], (s, r) => r.NextInt(2) == 0 ? MutateBytes(s, r, fields) : Reseal(MutateBytes(content, r, fields)));
    }

    [Fact(Timeout = 120_000)]
    public async Task ModuleConfigJson()
    {
        var seed = Encoding.UTF8.GetBytes(Models.SweBackbone(10, [16], inChannels: 1, imageSize: 28).ToJson());
        await Fuzz("model.json", seed, p =>
        {
            var c = ModuleConfig.FromFile(p);
            c.Validate();
            _ = c.TensorShapes();
            c.OutputShape([1, 28, 28]);
        }, [typeof(JsonException), typeof(ArgumentException)],
            (s, r) => r.NextInt(3) == 0 ? MutateBytes(s, r, []) : Encoding.UTF8.GetBytes(MutateText(Encoding.UTF8.GetString(s), r)));
    }

    [Fact(Timeout = 120_000)]
    public async Task GrowthConfigJson()
    {
        var cfg = new GrowthRunConfig([], GrowthSchedule.FromPercent(50, 3), InitialTraining: new StageTraining(2),
            StageTraining: new StageTraining(1, true, 2, 5), Model: Models.SweBackbone(10, [8], inChannels: 1, imageSize: 28),
            InputShape: [1, 28, 28], Distributor: new FixedConfig([1, 2, 3, 4, 5]));
        var seed = Encoding.UTF8.GetBytes(cfg.ToJson());
        await Fuzz("growth.json", seed, p => GrowthRunConfig.FromFile(p).Validate(), [typeof(JsonException), typeof(ArgumentException)],
            (s, r) => r.NextInt(3) == 0 ? MutateBytes(s, r, []) : Encoding.UTF8.GetBytes(MutateText(Encoding.UTF8.GetString(s), r)));
    }

    [Fact(Timeout = 120_000)]
    public async Task RunConfigJson()
    {
        var growth = new GrowthRunConfig([2, 16, 16, 2], GrowthSchedule.FromPercent(50, 3), GrowthMethods.Extender("swe-plus"),
            GrowthMethods.Distributor("svod-topn"), InitialTraining: new StageTraining(2), StageTraining: new StageTraining(1, true, 2, 5));
        var seed = Encoding.UTF8.GetBytes(new RunConfig("grow", "fuzz", "spirals", growth, TrainSamples: 500, ValidationFraction: 0.2, Threads: 2).ToJson());
        // the run folder's reader: config.json through RunSession.Open (which calls RunConfig.FromJson)
        await Fuzz(RunFiles.Config, seed, p => RunSession.Open(Path.GetDirectoryName(p)!), [typeof(FormatException)],
            (s, r) => r.NextInt(3) == 0 ? MutateBytes(s, r, []) : Encoding.UTF8.GetBytes(MutateText(Encoding.UTF8.GetString(s), r)));
    }

    [Fact(Timeout = 120_000)]
    public async Task MetricsCsv()
    {
        var rows = Enumerable.Range(1, 5).Select(i => MetricsTable.Line(new MetricsRow(i / 3, "stage", i, [16 + i, 8], 1000 + i,
            0.5 / i, 0.9, double.NaN, 0.8, 1e-3, i * 1.5)));
        var seed = Encoding.UTF8.GetBytes(string.Join("\n", rows.Prepend(MetricsTable.Header(["0", "1"]))) + "\n");
        await Fuzz("metrics.csv", seed, p => MetricsTable.Read(p), [typeof(FormatException)],
            (s, r) => r.NextInt(3) == 0 ? MutateBytes(s, r, []) : Encoding.UTF8.GetBytes(MutateText(Encoding.UTF8.GetString(s), r)));
    }

    [Fact(Timeout = 120_000)]
    public async Task EventsJsonl()
    {
        var lines = Enumerable.Range(1, 3).Select(i => new GrowthEvent(i, "0", 16, 4, "swe", "svod", 0.5, [4, 0], 0.01, 0.9, 0.9,
            1, 0, 10, 0.1, 0.4, [.. new int[20]], 0.2).ToJsonLine());
        var seed = Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n");
        await Fuzz("events.jsonl", seed, p => GrowthEvent.ReadAll(p), [typeof(FormatException)],
            (s, r) => r.NextInt(3) == 0 ? MutateBytes(s, r, []) : Encoding.UTF8.GetBytes(MutateText(Encoding.UTF8.GetString(s), r)));
    }
}
