using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sprout.Growth;
using Sprout.Nn;
using Sprout.Tensors;
using Xunit;

namespace Sprout.Tests.Nn;

public class CheckpointTests
{
    private static string TempFile() => Path.Combine(Path.GetTempPath(), "sprout-ck-" + Guid.NewGuid().ToString("N") + ".ckpt");

    private static float[][] Values(Module m) =>
        m.NamedParameters().Concat(m.NamedBuffers()).Select(p => p.Item2.ToArray()).ToArray();

    [Fact]
    public void RoundTripRestoresEveryParameterAndBuffer()
    {
        var cfg = Models.SweBackbone(10, [8], imageSize: 8);
        var a = cfg.Build(new Rng(1));
        var bn = (BatchNorm)a.NamedModules().First(m => m.Module is BatchNorm).Module;
        bn.RunningMean[0] = 3.5f;
        string path = TempFile();
        try
        {
            Checkpoint.Save(a, path);
            var b = cfg.Build(new Rng(2)); // different initial weights
            Checkpoint.Load(b, path);
            Assert.Equal(Values(a), Values(b));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AGrownNetworkIsRebuiltFromItsInitialConfig()
    {
        var cfg = SequentialConfig.Mlp([6, 4, 3], ActivationConfig.Relu);
        var grown = (Sequential)cfg.Build(new Rng(1));
        new GrowableModel(grown).Sites[0].Grow(5);
        var x = Tensor.Uniform(new Rng(3), -1, 1, 2, 6);
        var before = grown.Forward(x).ToArray();
        string path = TempFile();
        try
        {
            Checkpoint.Save(grown, path);
            var fresh = cfg.Build(new Rng(9));
            Checkpoint.Load(fresh, path);
            Assert.Equal(9, ((Linear)((Sequential)fresh).Layers[0]).OutFeatures);
            Assert.Equal(before, fresh.Forward(x).ToArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TheFileAloneRebuildsAGrownConvNet()
    {
        var cfg = Models.SweBackbone(10, [8], inChannels: 1, imageSize: 8);
        var net = (Sequential)cfg.Build(new Rng(4));
        var model = new GrowableModel(net);
        foreach (var site in model.Sites) site.Grow(3);
        model.Sites[0].SetBias(0, 0.25f);
        var x = Tensor.Uniform(new Rng(5), -1, 1, 2, 1, 8, 8);
        net.Eval();
        var before = net.Forward(x).ToArray();
        string path = TempFile();
        try
        {
            Checkpoint.Save(net, path, new Dictionary<string, string> { ["note"] = "grown ×3" });
            var back = Checkpoint.Load(path);
            back.Eval();
            Assert.Equal(net.ToConfig().ToJson(), back.ToConfig().ToJson());
            Assert.Equal(Values(net), Values(back));
            Assert.Equal(before, back.Forward(x).ToArray());
            Assert.Equal("grown ×3", CheckpointFile.Load(path).Metadata["note"]);
        }
        finally { File.Delete(path); }
    }

    /// <summary>Parses the file by hand as the safetensors layout, independently of the reader under test.</summary>
    [Fact]
    public void TheFileIsInTheSafetensorsLayoutWithTheDocumentedChecksum()
    {
        var cfg = SequentialConfig.Mlp([5, 3, 2], ActivationConfig.Relu);
        var net = cfg.Build(new Rng(7));
        string path = TempFile();
        try
        {
            Checkpoint.Save(net, path);
            var file = File.ReadAllBytes(path);
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
            Assert.Equal(0UL, n % 8);                                   // padded so the data starts 8-aligned
            Assert.True(8 + (long)n <= file.Length);
            var headerBytes = file.AsSpan(8, (int)n).ToArray();
            string header = Encoding.UTF8.GetString(headerBytes);
            Assert.StartsWith("{", header);
            Assert.EndsWith("}", header.TrimEnd(' '));                  // JSON, then only spaces
            using var doc = JsonDocument.Parse(header.TrimEnd(' '));
            int dataStart = 8 + (int)n;
            var expected = net.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
            var seen = new List<(long Begin, long End)>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__") continue;
                Assert.Equal("F32", p.Value.GetProperty("dtype").GetString());
                var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                var off = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var t = expected[p.Name];
                Assert.Equal(t.ShapeArray(), shape);
                Assert.Equal(4L * t.Length, off[1] - off[0]);
                var values = new float[t.Length];
                for (int i = 0; i < values.Length; i++)
                    values[i] = BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(dataStart + (int)off[0] + 4 * i));
                Assert.Equal(t.ToArray(), values);
                seen.Add((off[0], off[1]));
            }
            Assert.Equal(expected.Count, seen.Count);
            // tensors tile the data section exactly
            seen.Sort();
            Assert.Equal(0, seen[0].Begin);
            for (int i = 1; i < seen.Count; i++) Assert.Equal(seen[i - 1].End, seen[i].Begin);
            Assert.Equal(file.Length - dataStart, seen[^1].End);

            var meta = doc.RootElement.GetProperty("__metadata__");
            Assert.Equal("sprout-checkpoint", meta.GetProperty("format").GetString());
            Assert.Equal("2", meta.GetProperty("format_version").GetString());
            Assert.False(string.IsNullOrEmpty(meta.GetProperty("sprout_version").GetString()));
            var arch = ModuleConfig.FromJson(meta.GetProperty("architecture").GetString()!);
            Assert.Equal(cfg.ToJson(), arch.ToJson());
            // checksum: SHA-256 of the whole file with the checksum's 64 hex digits read as '0'
            string checksum = meta.GetProperty("checksum").GetString()!;
            Assert.Matches("^[0-9a-f]{64}$", checksum);
            int at = header.IndexOf("\"checksum\":\"" + checksum + "\"", StringComparison.Ordinal) + "\"checksum\":\"".Length;
            var zeroed = (byte[])file.Clone();
            zeroed.AsSpan(8 + at, 64).Fill((byte)'0');
            Assert.Equal(checksum, Convert.ToHexStringLower(SHA256.HashData(zeroed)));
        }
        finally { File.Delete(path); }
    }

    /// <summary>Writes the old SPROUTCK v1 layout by hand (as the old Save did).</summary>
    private static void WriteOldFormat(Module m, string path)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            var entries = m.NamedParameters().Concat(m.NamedBuffers()).ToList();
            w.Write("SPROUTCK"u8.ToArray());
            w.Write(1);
            w.Write(entries.Count);
            foreach (var (name, t) in entries)
            {
                w.Write(name);
                w.Write(t.Rank);
                foreach (int d in t.Shape) w.Write(d);
                foreach (float v in t.ToArray()) w.Write(v);
            }
        }
        ulong h = 14695981039346656037UL;
        foreach (byte b in ms.ToArray()) { h ^= b; h *= 1099511628211UL; }
        ms.Write(BitConverter.GetBytes(h));
        File.WriteAllBytes(path, ms.ToArray());
    }

    [Fact]
    public void TheOldFormatStillLoadsIntoAModule()
    {
        var cfg = SequentialConfig.Mlp([6, 4, 3], ActivationConfig.Relu);
        var grown = (Sequential)cfg.Build(new Rng(1));
        new GrowableModel(grown).Sites[0].Grow(2);
        string path = TempFile();
        try
        {
            WriteOldFormat(grown, path);
            var fresh = cfg.Build(new Rng(2));
            Checkpoint.Load(fresh, path);
            Assert.Equal(Values(grown), Values(fresh));
            var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
            Assert.Contains("old SPROUTCK v1 format", e.Message);
            // a flipped bit is caught by its FNV-1a checksum
            var bytes = File.ReadAllBytes(path);
            bytes[40] ^= 4;
            File.WriteAllBytes(path, bytes);
            Assert.Contains("checksum", Assert.Throws<CheckpointException>(() => Checkpoint.Load(fresh, path)).Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AFailedSaveLeavesTheFinishedCheckpointIntact()
    {
        var net = SequentialConfig.Mlp([4, 3, 2], ActivationConfig.Relu).Build(new Rng(1));
        string dir = Directory.CreateTempSubdirectory("sprout-ck-atomic-").FullName;
        string path = Path.Combine(dir, "last.ckpt");
        try
        {
            Checkpoint.Save(net, path);
            var finished = File.ReadAllBytes(path);
            foreach (var p in net.Parameters()) p.Span.Fill(42f);
            CheckpointFile.AfterTensorWritten = written => { if (written > 0) throw new IOException("disk full (injected)"); };
            try
            {
                Assert.Throws<IOException>(() => Checkpoint.Save(net, path));
            }
            finally { CheckpointFile.AfterTensorWritten = null; }
            Assert.Equal(finished, File.ReadAllBytes(path));
            Assert.Equal(new[] { "last.ckpt" }, Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).ToArray()); // no temporary left
            // a target that cannot be replaced (a folder) fails too, also without leftovers
            string folder = Path.Combine(dir, "taken");
            Directory.CreateDirectory(folder);
            Assert.ThrowsAny<IOException>(() => Checkpoint.Save(net, folder));
            Assert.Equal(new[] { "last.ckpt" }, Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).ToArray());
            var back = SequentialConfig.Mlp([4, 3, 2], ActivationConfig.Relu).Build(new Rng(9));
            Checkpoint.Load(back, path);
            Assert.DoesNotContain(42f, back.Parameters().SelectMany(p => p.ToArray()));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void BadFilesGiveClearErrors()
    {
        var m = SequentialConfig.Mlp([3, 2], ActivationConfig.Relu).Build(new Rng(1));
        string path = TempFile();
        try
        {
            Assert.Contains("file is missing", Assert.Throws<CheckpointException>(() => Checkpoint.Load(m, path)).Message);
            File.WriteAllText(path, "hello, not a checkpoint at all");
            Assert.Contains("not a checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Load(m, path)).Message);
            File.WriteAllBytes(path, [1, 2, 3]);
            Assert.Contains("too short", Assert.Throws<CheckpointException>(() => Checkpoint.Load(m, path)).Message);
            Checkpoint.Save(m, path);
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^5]); // truncated
            Assert.Contains("truncated", Assert.Throws<CheckpointException>(() => Checkpoint.Load(m, path)).Message);
            var flipped = (byte[])bytes.Clone();
            flipped[^3] ^= 1; // one bit of the data
            File.WriteAllBytes(path, flipped);
            Assert.Contains("checksum mismatch", Assert.Throws<CheckpointException>(() => Checkpoint.Load(m, path)).Message);
            Checkpoint.Save(m, path);
            var other = SequentialConfig.Mlp([4, 2], ActivationConfig.Relu).Build(new Rng(1));
            var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(other, path));
            Assert.Contains("0.weight", e.Message); // names the tensor that does not fit
            Assert.Contains(path, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ForeignSafetensorsNeedsConsentAndOtherDtypesAreNamed()
    {
        string path = TempFile();
        try
        {
            // a minimal plain safetensors file as another tool writes it: one F32 tensor, no checksum
            string header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"__metadata__\":{\"format\":\"pt\"}}";
            while ((header.Length % 8) != 0) header += " ";
            var file = new byte[8 + header.Length + 8];
            BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
            Encoding.UTF8.GetBytes(header).CopyTo(file, 8);
            BinaryPrimitives.WriteSingleLittleEndian(file.AsSpan(8 + header.Length), 1.5f);
            BinaryPrimitives.WriteSingleLittleEndian(file.AsSpan(12 + header.Length), -2f);
            File.WriteAllBytes(path, file);
            Assert.Contains("no checksum", Assert.Throws<CheckpointException>(() => CheckpointFile.Load(path)).Message);
            var ck = CheckpointFile.Load(path, requireChecksum: false);
            Assert.Equal([1.5f, -2f], ck.Get("w").Data);
            Assert.Equal("pt", ck.Metadata["format"]);
            File.WriteAllBytes(path, Encoding.UTF8.GetBytes(header.Replace("F32", "F16")).Prepend((byte)0).ToArray()); // garbage prefix
            Assert.Throws<CheckpointException>(() => CheckpointFile.Load(path, requireChecksum: false));
            var f16 = (byte[])file.Clone();
            Encoding.UTF8.GetBytes(header.Replace("F32", "F16")).CopyTo(f16, 8);
            File.WriteAllBytes(path, f16);
            Assert.Contains("dtype F16", Assert.Throws<CheckpointException>(() => CheckpointFile.Load(path, requireChecksum: false)).Message);
        }
        finally { File.Delete(path); }
    }

    private static void ResaveWith(string path, string name, int[] shape)
    {
        var ck = CheckpointFile.Load(path);
        ck.Add(name, new CheckpointTensor(shape, new float[shape.Aggregate(1, (a, b) => a * b)]));
        ck.Save(path);
    }

    [Theory]
    [InlineData("0.weight", new[] { 7, 6 })]   // a producer grown without its bias or its consumer
    [InlineData("0.bias", new[] { 7 })]        // a bias alone
    [InlineData("0.weight", new[] { 4, 9 })]   // the network's input width
    [InlineData("2.weight", new[] { 5, 4 })]   // the network's output width (and its bias left behind)
    [InlineData("2.weight", new[] { 3, 3 })]   // shrunk
    public void AShapeChangeThatIsNotGrowthIsRejectedAndTheModuleKept(string name, int[] shape)
    {
        var cfg = SequentialConfig.Mlp([6, 4, 3], ActivationConfig.Relu);
        var net = cfg.Build(new Rng(1));
        string path = TempFile();
        try
        {
            Checkpoint.Save(net, path);
            ResaveWith(path, name, shape);
            var target = cfg.Build(new Rng(2));
            var before = Values(target);
            var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(target, path));
            Assert.Contains(path, e.Message);
            Assert.Equal(before, Values(target)); // nothing changed
            Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ConsistentGrowthAcrossLayersIsAccepted_AKernelChangeIsNot()
    {
        var cfg = Models.SweBackbone(10, [8], inChannels: 1, imageSize: 8);
        var grown = (Sequential)cfg.Build(new Rng(1));
        new GrowableModel(grown).Sites[3].Grow(2); // the last conv: its BatchNorm and the Flatten→Linear block follow
        string path = TempFile();
        try
        {
            Checkpoint.Save(grown, path);
            var fresh = cfg.Build(new Rng(3));
            Checkpoint.Load(fresh, path);
            Assert.Equal(Values(grown), Values(fresh));

            var ck = CheckpointFile.Load(path);
            var w = ck.Get("0.weight");
            ck.Add("0.weight", new CheckpointTensor([w.Shape[0], w.Shape[1], 5, 5], new float[w.Shape[0] * w.Shape[1] * 25]));
            ck.Save(path);
            var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(cfg.Build(new Rng(3)), path));
            Assert.Contains("layer 0 (conv2d)", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void DropoutStreamsAreSavedAndRestored()
    {
        var cfg = new SequentialConfig([new LinearConfig(4, 8), new DropoutConfig(0.5f), new LinearConfig(8, 2)]);
        var net = cfg.Build(new Rng(1));
        var x = Tensor.Uniform(new Rng(2), -1, 1, 16, 4);
        net.Forward(x); // consume some of the dropout stream
        string path = TempFile();
        try
        {
            Checkpoint.Save(net, path);
            Assert.Single(net.NamedRngs());
            Assert.Equal("1.rng", net.NamedRngs().Single().Name);
            var next = net.Forward(x).ToArray();
            var back = Checkpoint.Load(path);
            Assert.Equal(next, back.Forward(x).ToArray());
            var into = cfg.Build(new Rng(99));
            Checkpoint.Load(into, path);
            Assert.Equal(next, into.Forward(x).ToArray());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AContainerHoldsExtraTensorsRngsAndMetadataUnderPrefixes()
    {
        var net = SequentialConfig.Mlp([3, 2], ActivationConfig.Relu).Build(new Rng(1));
        var shuffle = new Rng(5).Fork("shuffle");
        shuffle.Normal();
        var ck = new CheckpointFile().AddModule("model/", net);
        ck.Add("best/0.weight", Tensor.Full(0.5f, 2, 3));
        ck.AddRng("rng/shuffle", shuffle);
        ck.Metadata["position"] = "{\"stage\":2,\"epoch\":3}";
        string path = TempFile();
        try
        {
            ck.Save(path);
            var expected = shuffle.Normal();
            var back = CheckpointFile.Load(path);
            Assert.Equal(path, back.FilePath);
            Assert.Equal("{\"stage\":2,\"epoch\":3}", back.Metadata["position"]);
            Assert.Equal(Enumerable.Repeat(0.5f, 6), back.Get("best/0.weight").Data);
            Assert.Equal(expected, back.GetRng("rng/shuffle").Normal());
            var rebuilt = back.BuildModule("model/");
            Assert.Equal(Values(net), Values(rebuilt));
            Assert.Contains("no tensor 'nope'", Assert.Throws<CheckpointException>(() => back.Get("nope")).Message);
            Assert.Contains("no metadata", Assert.Throws<CheckpointException>(() => back.GetRng("rng/none")).Message);
        }
        finally { File.Delete(path); }
    }
}
