using System.Buffers.Binary;
using System.Text;

namespace Sprout.Nn;

/// <summary>Raised for a checkpoint file that cannot be read; the message names the file and the problem.</summary>
public sealed class CheckpointException(string path, string problem) : Exception($"{path}: {problem}")
{
    /// <summary>The checkpoint file.</summary>
    public string FilePath { get; } = path;
}

/// <summary>
/// Saves and loads a module's named parameters and buffers with their shapes. Loading into a module of the same
/// architecture restores the values, and a grown tensor (more rows or columns than the module has) is restored at its
/// saved size, so a grown network can be rebuilt from its initial config and its checkpoint. Files are written
/// atomically (temporary file, then rename), so a finished checkpoint is never replaced by a partial one.
/// Format: "SPROUTCK" v1, entry count, then per entry: name (UTF-8, length-prefixed), rank, dims, floats
/// (little-endian), and a trailing FNV-1a hash of everything before it.
/// </summary>
public static class Checkpoint
{
    private static readonly byte[] Magic = "SPROUTCK"u8.ToArray();
    private const int Version = 1;

    /// <summary>Writes every parameter and buffer of <paramref name="module"/> to <paramref name="path"/>.</summary>
    public static void Save(Module module, string path)
    {
        var entries = module.NamedParameters().Concat(module.NamedBuffers()).ToList();
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(entries.Count);
            foreach (var (name, t) in entries)
            {
                w.Write(name);
                w.Write(t.Rank);
                foreach (int d in t.Shape) w.Write(d);
                foreach (float v in t.Span) w.Write(v);
            }
        }
        ms.Write(BitConverter.GetBytes(Hash(ms.GetBuffer().AsSpan(0, (int)ms.Length))));
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = full + ".tmp-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        File.WriteAllBytes(tmp, ms.ToArray());
        File.Move(tmp, full, overwrite: true);
    }

    /// <summary>
    /// Restores <paramref name="module"/>'s parameters and buffers from <paramref name="path"/>. Every tensor of the
    /// module must be in the file under the same name and with the same rank; a saved shape that only grows the
    /// module's shape (growth) replaces the tensor in place. Throws <see cref="CheckpointException"/> otherwise.
    /// </summary>
    public static void Load(Module module, string path)
    {
        if (!File.Exists(path)) throw new CheckpointException(path, "file not found");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < Magic.Length + 16 || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new CheckpointException(path, "not a Sprout checkpoint (bad magic)");
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(bytes.Length - 8));
        if (stored != Hash(bytes.AsSpan(0, bytes.Length - 8)))
            throw new CheckpointException(path, "corrupt (checksum mismatch; the file was truncated or altered)");
        var saved = new Dictionary<string, (int[] Shape, float[] Data)>(StringComparer.Ordinal);
        using (var r = new BinaryReader(new MemoryStream(bytes, 0, bytes.Length - 8), Encoding.UTF8))
        {
            r.ReadBytes(Magic.Length);
            int version = r.ReadInt32();
            if (version != Version) throw new CheckpointException(path, $"version {version} is not supported (expected {Version})");
            int count = r.ReadInt32();
            for (int e = 0; e < count; e++)
            {
                string name = r.ReadString();
                int rank = r.ReadInt32();
                if (rank < 1 || rank > Tensor.MaxRank) throw new CheckpointException(path, $"entry {name} has rank {rank}");
                var shape = new int[rank];
                long n = 1;
                for (int i = 0; i < rank; i++) { shape[i] = r.ReadInt32(); n *= shape[i]; }
                if (shape.Any(d => d < 0) || n > int.MaxValue) throw new CheckpointException(path, $"entry {name} has an invalid shape");
                var data = new float[n];
                for (long i = 0; i < n; i++) data[i] = r.ReadSingle();
                saved[name] = (shape, data);
            }
        }
        foreach (var (name, t) in module.NamedParameters().Concat(module.NamedBuffers()))
        {
            if (!saved.TryGetValue(name, out var s)) throw new CheckpointException(path, $"has no entry for {name}");
            if (s.Shape.Length != t.Rank) throw new CheckpointException(path, $"{name} has rank {s.Shape.Length}, the module's has {t.Rank}");
            if (Tensor.SameShape(s.Shape, t.Shape)) s.Data.CopyTo(t.Span);
            else if (Sprout.Tensors.Embed.IsGrowth(t.Shape, s.Shape)) t.Replace(s.Data, s.Shape);
            else throw new CheckpointException(path, $"{name} is {Tensor.FormatShape(s.Shape)}, the module's is {Tensor.FormatShape(t.Shape)}");
        }
    }

    private static ulong Hash(ReadOnlySpan<byte> data)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in data)
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return h;
    }
}
