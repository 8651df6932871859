using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>A named float32 tensor of a <see cref="CheckpointFile"/>: its shape (rank 1–4) and row-major data.</summary>
public sealed class CheckpointTensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied); its length must be the product of <paramref name="shape"/>.</summary>
    public CheckpointTensor(int[] shape, float[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (shape.Length < 1 || shape.Length > Tensor.MaxRank) throw new ArgumentException($"a checkpoint tensor has rank 1..{Tensor.MaxRank}, got {shape.Length}");
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in {Tensor.FormatShape(shape)}");
            n *= d;
            if (n > ModuleConfig.MaxTensorElements) throw new ArgumentException($"shape {Tensor.FormatShape(shape)} is too large");
        }
        if (n != data.Length) throw new ArgumentException($"{data.Length} values do not fill shape {Tensor.FormatShape(shape)}");
        Shape = shape;
        Data = data;
    }

    /// <summary>The shape.</summary>
    public int[] Shape { get; }

    /// <summary>The values, row-major.</summary>
    public float[] Data { get; }

    /// <summary>A new tensor holding a copy of the values.</summary>
    public Tensor ToTensor() => new((float[])Data.Clone(), (int[])Shape.Clone());
}

/// <summary>
/// A checkpoint: named float32 tensors and string metadata, stored in the safetensors layout — an 8-byte
/// little-endian header length N, N bytes of UTF-8 JSON
/// <c>{"name": {"dtype": "F32", "shape": […], "data_offsets": [begin, end]}, …, "__metadata__": {"key": "value", …}}</c>
/// padded with spaces to a multiple of 8, then the raw little-endian data (offsets relative to its start, tensors
/// back to back). Any safetensors reader opens it. Sprout adds the metadata "format" (<see cref="FormatName"/>),
/// "format_version", "sprout_version" and "checksum": the lower-case hex SHA-256 of the whole file in which the 64
/// hex digits of the checksum value itself are replaced by the character '0' (see docs/runs.md).
/// </summary>
/// <remarks>
/// Building blocks, composed by whoever saves a run: <see cref="AddModule"/> (parameters, buffers, RNG streams and
/// the architecture), <c>AddOptimizer</c> (Sprout.Optim), <see cref="AddRng"/>, and <see cref="Metadata"/> for any
/// JSON or text a caller keeps (position, early stopping); extra tensors (a best-weights snapshot) go in with
/// <see cref="Add(string, Tensor)"/> under a prefix. <see cref="Save"/> writes atomically; <see cref="Load"/> reads
/// with every declared size checked against the file's real length before anything is allocated, and reports every
/// problem as one <see cref="CheckpointException"/>. A file of the old "SPROUTCK" v1 format loads as tensors only.
/// </remarks>
public sealed class CheckpointFile
{
    /// <summary>The "format" metadata of a Sprout checkpoint.</summary>
    public const string FormatName = "sprout-checkpoint";

    /// <summary>The "format_version" this Sprout writes and reads (1 was the old SPROUTCK layout).</summary>
    public const int FormatVersion = 2;

    /// <summary>Largest header accepted (the limit of the safetensors reference implementation): 100,000,000 bytes.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Metadata key of the module config JSON (after a prefix: "model/architecture").</summary>
    public const string ArchitectureKey = "architecture";

    private const string MetadataEntry = "__metadata__";
    private const int DigitCount = 64;
    private const int Chunk = 1 << 26; // floats per read or write (256 MiB)
    private static readonly byte[] LegacyMagic = "SPROUTCK"u8.ToArray();

    private readonly List<string> _order = new();
    private readonly Dictionary<string, CheckpointTensor> _tensors = new(StringComparer.Ordinal);

    /// <summary>String metadata (reserved keys written by <see cref="Save"/>: format, format_version, sprout_version, checksum).</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>The file this checkpoint was read from or last written to, or null.</summary>
    public string? FilePath { get; private set; }

    /// <summary>The tensor names in the order they were added (or stored).</summary>
    public IReadOnlyList<string> TensorNames => _order;

    /// <summary>Adds (or replaces) a tensor holding a copy of <paramref name="tensor"/>'s values.</summary>
    public void Add(string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        Add(name, new CheckpointTensor(tensor.ShapeArray(), tensor.ToArray()));
    }

    /// <summary>Adds (or replaces) a tensor; its arrays are kept, not copied.</summary>
    public void Add(string name, CheckpointTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(tensor);
        if (name == MetadataEntry) throw new ArgumentException($"'{MetadataEntry}' is reserved for the metadata");
        if (!_tensors.ContainsKey(name)) _order.Add(name);
        _tensors[name] = tensor;
    }

    /// <summary>Removes a tensor; returns whether it was there.</summary>
    public bool Remove(string name)
    {
        if (!_tensors.Remove(name)) return false;
        _order.Remove(name);
        return true;
    }

    /// <summary>Whether a tensor of that name is present.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The tensor of that name, if present.</summary>
    public bool TryGet(string name, [MaybeNullWhen(false)] out CheckpointTensor tensor) => _tensors.TryGetValue(name, out tensor);

    /// <summary>The tensor of that name; throws <see cref="CheckpointException"/> naming the file when it is absent.</summary>
    public CheckpointTensor Get(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw Fail($"has no tensor '{name}'");

    /// <summary>The metadata of that key; throws <see cref="CheckpointException"/> naming the file when it is absent.</summary>
    public string GetMetadata(string key) =>
        Metadata.TryGetValue(key, out var v) ? v : throw Fail($"has no metadata '{key}'");

    /// <summary>A <see cref="CheckpointException"/> naming this checkpoint's file (for callers that check its content).</summary>
    public CheckpointException Fail(string problem) => new(FilePath ?? "checkpoint", problem);

    // ---------------------------------------------------------------- modules and RNG streams

    /// <summary>
    /// Adds a module's parameters and buffers as tensors "<paramref name="prefix"/>name", its RNG streams
    /// (<see cref="Module.NamedRngs"/>) as metadata "<paramref name="prefix"/>name", and — when
    /// <paramref name="architecture"/> — its config at its current widths as metadata
    /// "<paramref name="prefix"/>architecture". Values are copied. Returns this checkpoint.
    /// </summary>
    public CheckpointFile AddModule(string prefix, Module module, bool architecture = true)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(module);
        foreach (var (name, t) in module.NamedParameters().Concat(module.NamedBuffers())) Add(prefix + name, t);
        foreach (var (name, rng) in module.NamedRngs()) AddRng(prefix + name, rng);
        if (architecture) Metadata[prefix + ArchitectureKey] = module.ToConfig().ToCompactJson();
        return this;
    }

    /// <summary>
    /// Restores <paramref name="module"/>'s parameters, buffers and RNG streams from the entries under
    /// <paramref name="prefix"/>. A saved shape that grows the module's tensor (growth) replaces it in place, but only
    /// when the saved shapes together make a network that differs from the module's by widths alone (every layer's
    /// inputs match the width before it, the network's input and output widths and everything that is not a width are
    /// unchanged); anything else is a <see cref="CheckpointException"/>, and the module is left untouched.
    /// </summary>
    public void LoadModule(string prefix, Module module) => LoadModule(prefix, module, exact: false);

    /// <summary>
    /// Builds the module described by the metadata "<paramref name="prefix"/>architecture" and loads its tensors and
    /// RNG streams: a checkpoint alone rebuilds the (grown) model. The architecture and every tensor shape are checked
    /// against each other before anything is built.
    /// </summary>
    public Module BuildModule(string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var config = Architecture(prefix);
        foreach (var (name, shape) in config.TensorShapes())
        {
            var t = _tensors.GetValueOrDefault(prefix + name) ?? throw Fail($"has no tensor '{prefix + name}', which its architecture needs");
            if (!Tensor.SameShape(t.Shape, shape))
                throw Fail($"tensor '{prefix + name}' is {Tensor.FormatShape(t.Shape)}, its architecture says {Tensor.FormatShape(shape)}");
        }
        var module = config.Build(new Rng(0));
        LoadModule(prefix, module, exact: true);
        return module;
    }

    /// <summary>The module config stored under "<paramref name="prefix"/>architecture", validated.</summary>
    public ModuleConfig Architecture(string prefix = "")
    {
        string key = prefix + ArchitectureKey;
        if (!Metadata.TryGetValue(key, out var json))
            throw Fail(IsLegacy
                ? "is in the old SPROUTCK v1 format, which has no architecture: build the module from its config and load the file into it"
                : $"has no '{key}' metadata, so it cannot rebuild the model alone");
        ModuleConfig config;
        try { config = ModuleConfig.FromJson(json); }
        catch (JsonException e) { throw Fail($"its architecture is not a valid model config ({OneLine(e.Message)})"); }
        try { config.Validate(); }
        catch (ArgumentException e) { throw Fail($"its architecture is invalid: {OneLine(e.Message)}"); }
        return config;
    }

    /// <summary>Stores an RNG stream's complete state as metadata <paramref name="key"/> (see <see cref="RngState"/>).</summary>
    public void AddRng(string key, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(rng);
        Metadata[key] = rng.GetState().ToString();
    }

    /// <summary>The RNG state stored under <paramref name="key"/>; <see cref="CheckpointException"/> when absent or malformed.</summary>
    public RngState GetRngState(string key)
    {
        string text = GetMetadata(key);
        try { return RngState.Parse(text); }
        catch (FormatException e) { throw Fail($"RNG state '{key}' is malformed ({e.Message})"); }
    }

    /// <summary>A generator continuing the stream stored under <paramref name="key"/>.</summary>
    public Rng GetRng(string key) => Rng.FromState(GetRngState(key));

    /// <summary>Makes <paramref name="rng"/> continue the stream stored under <paramref name="key"/>.</summary>
    public void LoadRng(string key, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        rng.SetState(GetRngState(key));
    }

    private bool IsLegacy => Metadata.TryGetValue("format_version", out var v) && v == "1";

    private void LoadModule(string prefix, Module module, bool exact)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(module);
        var entries = module.NamedParameters().Concat(module.NamedBuffers()).ToList();
        var saved = new Dictionary<Tensor, CheckpointTensor>(ReferenceEqualityComparer.Instance);
        bool grown = false;
        foreach (var (name, t) in entries)
        {
            if (!_tensors.TryGetValue(prefix + name, out var s)) throw Fail($"has no entry for {prefix + name}");
            if (s.Shape.Length != t.Rank)
                throw Fail($"{prefix + name} has rank {s.Shape.Length}, the module's has {t.Rank}");
            if (!Tensor.SameShape(s.Shape, t.Shape))
            {
                if (exact || !Embed.IsGrowth(t.Shape, s.Shape))
                    throw Fail($"{prefix + name} is {Tensor.FormatShape(s.Shape)}, the module's is {Tensor.FormatShape(t.Shape)}{(exact ? "" : ": not a growth of it")}");
                grown = true;
            }
            saved[t] = s;
        }
        if (grown) CheckGrowth(module, saved);
        var rngs = new List<(Rng Rng, RngState State)>();
        foreach (var (name, rng) in module.NamedRngs())
        {
            if (!Metadata.ContainsKey(prefix + name) && IsLegacy) continue; // the old format kept no RNG streams
            rngs.Add((rng, GetRngState(prefix + name)));
        }
        foreach (var (_, t) in entries)
        {
            var s = saved[t];
            if (Tensor.SameShape(s.Shape, t.Shape)) s.Data.CopyTo(t.Span);
            else t.Replace((float[])s.Data.Clone(), (int[])s.Shape.Clone());
        }
        foreach (var (rng, state) in rngs) rng.SetState(state);
    }

    /// <summary>Checks that the saved shapes make the module's network at other widths, before any tensor changes.</summary>
    private void CheckGrowth(Module module, Dictionary<Tensor, CheckpointTensor> saved)
    {
        ModuleConfig before, after;
        try
        {
            before = module.ToConfig();
            after = module.ConfigFor(t => saved.TryGetValue(t, out var s) ? (int[])s.Shape.Clone() : t.ShapeArray());
        }
        catch (NotSupportedException)
        {
            return; // a module type without a config: the per-tensor growth check is all there is
        }
        try { after.Validate(); }
        catch (ArgumentException e) { throw Fail($"the saved shapes do not make a valid network: {OneLine(e.Message)}"); }
        if (ModuleConfig.DifferenceBeyondWidths(before, after) is { } where)
            throw Fail($"the saved shapes change more than the widths of {where}: a kernel or another size that growth never changes");
        var expected = after.TensorShapes().ToDictionary(p => p.Name, p => p.Shape, StringComparer.Ordinal);
        foreach (var (name, t) in module.NamedParameters().Concat(module.NamedBuffers()))
        {
            var s = saved[t].Shape;
            if (expected.TryGetValue(name, out var e) && !Tensor.SameShape(e, s))
                throw Fail($"{name} is {Tensor.FormatShape(s)}, but a network of the saved widths has {Tensor.FormatShape(e)} there");
        }
        string? problem;
        try { problem = WidthFlow.GrowthProblem(WidthFlow.Of(before), WidthFlow.Of(after)); }
        catch (ArgumentException e) { problem = OneLine(e.Message); }
        if (problem is not null) throw Fail($"the saved shapes are not a growth of the module: {problem}");
    }

    // ---------------------------------------------------------------- writing

    /// <summary>Test hook: called after each tensor's bytes are written to the temporary file (with the data bytes so far).</summary>
    [ThreadStatic] internal static Action<long>? AfterTensorWritten;

    /// <summary>The Sprout version written as "sprout_version" (the assembly's informational version).</summary>
    public static string SproutVersion { get; } =
        typeof(CheckpointFile).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(CheckpointFile).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>
    /// Writes the checkpoint to <paramref name="path"/> atomically: a temporary file in the same folder is written,
    /// flushed to disk and renamed over the target, so a finished checkpoint is never replaced by a partial one. On a
    /// failure the temporary file is removed and the old file stays as it was.
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var meta = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in Metadata) if (k != "checksum") meta[k] = v;
        meta["format"] = FormatName;
        meta["format_version"] = FormatVersion.ToString(CultureInfo.InvariantCulture);
        meta["sprout_version"] = SproutVersion;

        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            long offset = 0;
            foreach (var name in _order)
            {
                var t = _tensors[name];
                w.WriteStartObject(name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += 4L * t.Data.Length;
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteStartObject(MetadataEntry);
            foreach (var (k, v) in meta) w.WriteString(k, v);
            w.WriteString("checksum", new string('0', DigitCount));
            w.WriteEndObject();
            w.WriteEndObject();
        }
        int jsonLength = (int)json.Length;
        int digitsAt = jsonLength - 3 - DigitCount; // the header ends with "checksum":"<digits>"}}
        long headerLength = (jsonLength + 7) / 8 * 8;
        if (headerLength > MaxHeaderBytes) throw new ArgumentException($"the checkpoint's header would be {headerLength:N0} bytes, more than the safetensors limit of {MaxHeaderBytes:N0}");
        var header = new byte[headerLength];
        json.GetBuffer().AsSpan(0, jsonLength).CopyTo(header);
        header.AsSpan(jsonLength).Fill((byte)' ');

        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, "." + Path.GetFileName(full) + ".tmp-" +
                                       Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16))
            using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)headerLength);
                fs.Write(prefix);
                sha.AppendData(prefix);
                fs.Write(header);
                sha.AppendData(header);
                long written = 0;
                foreach (var name in _order)
                {
                    var data = _tensors[name].Data;
                    WriteLittleEndian(fs, sha, data);
                    written += 4L * data.Length;
                    AfterTensorWritten?.Invoke(written);
                }
                var digits = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(sha.GetHashAndReset()));
                fs.Position = 8 + digitsAt;
                fs.Write(digits);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
        FilePath = path;
    }

    private static void WriteLittleEndian(Stream fs, IncrementalHash sha, float[] data)
    {
        if (BitConverter.IsLittleEndian)
        {
            for (int i = 0; i < data.Length; i += Chunk) // a span of bytes holds at most 2³¹ − 1: write large tensors in parts
            {
                var bytes = MemoryMarshal.AsBytes(data.AsSpan(i, Math.Min(Chunk, data.Length - i)));
                fs.Write(bytes);
                sha.AppendData(bytes);
            }
            return;
        }
        var chunk = new byte[1 << 16];
        for (int i = 0; i < data.Length;)
        {
            int n = Math.Min(chunk.Length / 4, data.Length - i);
            for (int k = 0; k < n; k++) BinaryPrimitives.WriteSingleLittleEndian(chunk.AsSpan(4 * k), data[i + k]);
            fs.Write(chunk, 0, 4 * n);
            sha.AppendData(chunk, 0, 4 * n);
            i += n;
        }
    }

    // ---------------------------------------------------------------- reading

    /// <summary>
    /// Reads a checkpoint. Only a regular file is opened; the header length, every shape and every data offset are
    /// checked against the file's real length before anything is allocated; tensors must tile the data section
    /// exactly; the checksum is verified. A file of the old "SPROUTCK" v1 format loads too (tensors only, metadata
    /// "format_version" = "1"). With <paramref name="requireChecksum"/> false a plain safetensors file without a
    /// checksum is accepted (F32 tensors only). Every problem is a <see cref="CheckpointException"/>.
    /// </summary>
    public static CheckpointFile Load(string path, bool requireChecksum = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        Func<string, Exception> fail = problem => new CheckpointException(path, problem);
        using var s = SafeFile.OpenRead(path, fail);
        long length = s.Length;
        if (length < 8) throw fail($"truncated or not a checkpoint: {length} bytes, too short for a header");
        Span<byte> prefix = stackalloc byte[8];
        SafeFile.ReadExactly(s, prefix, fail);
        if (prefix.SequenceEqual(LegacyMagic))
        {
            s.Position = 0;
            return LegacyCheckpoint.Read(path, s, fail);
        }
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > (ulong)(length - 8))
            throw fail($"not a checkpoint, or truncated: its first 8 bytes declare a {n:N0}-byte header but only {length - 8:N0} bytes follow");
        if (n > MaxHeaderBytes) throw fail($"header of {n:N0} bytes is larger than the limit of {MaxHeaderBytes:N0}");
        if (n < 2) throw fail("not a checkpoint: the header is empty");
        var header = new byte[n];
        SafeFile.ReadExactly(s, header, fail);
        if (header[0] != (byte)'{') throw fail("not a checkpoint: the header is not a JSON object");
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw fail("corrupt header: not UTF-8 text");
        var ck = new CheckpointFile { FilePath = path };
        var entries = ParseHeader(header, ck.Metadata, fail);
        int digitsAt = FindChecksum(header, ck.Metadata, fail);
        if (digitsAt < 0 && requireChecksum)
            throw fail("has no checksum, so it is not a Sprout checkpoint (a plain safetensors file needs requireChecksum: false)");
        if (ck.Metadata.TryGetValue("format", out var format) && format == FormatName)
        {
            string v = ck.Metadata.GetValueOrDefault("format_version") ?? "(none)";
            if (v != FormatVersion.ToString(CultureInfo.InvariantCulture))
                throw fail($"format version {Truncate(v)} is not supported (this Sprout reads version {FormatVersion})");
        }

        long dataLength = length - 8 - (long)n;
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long at = 0;
        foreach (var e in entries)
        {
            if (e.Begin != at)
                throw fail(e.Begin < at
                    ? $"tensor '{Truncate(e.Name)}' overlaps the tensor before it (offset {e.Begin:N0})"
                    : $"there is a gap before tensor '{Truncate(e.Name)}' (offset {e.Begin:N0}, expected {at:N0})");
            if (e.End > dataLength)
                throw fail($"truncated: tensor '{Truncate(e.Name)}' ends at data byte {e.End:N0}, but the file has {dataLength:N0} data bytes");
            at = e.End;
        }
        if (at != dataLength)
            throw fail($"the tensors cover {at:N0} data bytes but the file has {dataLength:N0} (truncated or trailing bytes)");

        using var sha = digitsAt >= 0 ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        if (sha is not null)
        {
            sha.AppendData(prefix);
            var zeroed = (byte[])header.Clone();
            zeroed.AsSpan(digitsAt, DigitCount).Fill((byte)'0');
            sha.AppendData(zeroed);
        }
        var tensors = new CheckpointTensor[entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            var data = new float[(e.End - e.Begin) / 4];
            for (int from = 0; from < data.Length; from += Chunk)
            {
                var bytes = MemoryMarshal.AsBytes(data.AsSpan(from, Math.Min(Chunk, data.Length - from)));
                SafeFile.ReadExactly(s, bytes, fail);
                sha?.AppendData(bytes);
                if (!BitConverter.IsLittleEndian)
                    for (int k = 0; k < bytes.Length / 4; k++) data[from + k] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * k, 4));
            }
            tensors[i] = new CheckpointTensor(e.Shape, data);
        }
        if (sha is not null)
        {
            var expected = Encoding.ASCII.GetString(header, digitsAt, DigitCount);
            if (Convert.ToHexStringLower(sha.GetHashAndReset()) != expected)
                throw fail("corrupt: checksum mismatch (the file was altered or damaged)");
        }
        // back in the order they were written (the header's order)
        foreach (int i in Enumerable.Range(0, entries.Count).OrderBy(i => entries[i].Position)) ck.Add(entries[i].Name, tensors[i]);
        return ck;
    }

    private sealed record Entry(string Name, int[] Shape, long Begin, long End, int Position);

    private static List<Entry> ParseHeader(byte[] header, Dictionary<string, string> metadata, Func<string, Exception> fail)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw fail($"corrupt header: not valid JSON ({OneLine(e.Message)})"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw fail("not a checkpoint: the header is not a JSON object");
            var entries = new List<Entry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            bool sawMetadata = false;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == MetadataEntry)
                {
                    if (sawMetadata) throw fail("corrupt header: two __metadata__ entries");
                    sawMetadata = true;
                    if (p.Value.ValueKind != JsonValueKind.Object) throw fail("corrupt header: __metadata__ is not an object");
                    foreach (var m in p.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw fail($"corrupt header: metadata '{Truncate(m.Name)}' is not a string");
                        if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw fail($"corrupt header: metadata '{Truncate(m.Name)}' appears twice");
                    }
                    continue;
                }
                if (!seen.Add(p.Name)) throw fail($"corrupt header: tensor '{Truncate(p.Name)}' appears twice");
                entries.Add(ParseEntry(p.Name, p.Value, entries.Count, fail));
            }
            return entries;
        }
    }

    private static Entry ParseEntry(string name, JsonElement v, int position, Func<string, Exception> fail)
    {
        string what = $"tensor '{Truncate(name)}'";
        if (v.ValueKind != JsonValueKind.Object) throw fail($"corrupt header: {what} is not an object");
        if (!v.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw fail($"corrupt header: {what} has no dtype");
        if (dtype.GetString() != "F32") throw fail($"{what} has dtype {Truncate(dtype.GetString()!)}; Sprout reads F32 tensors only");
        if (!v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw fail($"corrupt header: {what} has no shape");
        int rank = shapeEl.GetArrayLength();
        if (rank < 1 || rank > Tensor.MaxRank) throw fail($"{what} has rank {rank}; Sprout tensors have rank 1..{Tensor.MaxRank}");
        var shape = new int[rank];
        long count = 1;
        int i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
                throw fail($"corrupt header: {what} has an invalid dimension {Truncate(d.GetRawText())}");
            shape[i++] = dim;
            count = dim == 0 || count == 0 ? 0 : count > ModuleConfig.MaxTensorElements / dim ? long.MaxValue : count * dim;
        }
        if (count > ModuleConfig.MaxTensorElements)
            throw fail($"{what} of shape {Tensor.FormatShape(shape)} has more than {ModuleConfig.MaxTensorElements:N0} elements");
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw fail($"corrupt header: {what} has no data_offsets [begin, end]");
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw fail($"corrupt header: {what} has invalid data_offsets {Truncate(off.GetRawText())}");
        if (end - begin != 4 * count)
            throw fail($"corrupt header: {what} of shape {Tensor.FormatShape(shape)} needs {4 * count:N0} bytes but its offsets span {end - begin:N0}");
        return new Entry(name, shape, begin, end, position);
    }

    /// <summary>
    /// Index in the header of the checksum's 64 hex digits (the "checksum" string of the __metadata__ object), or −1
    /// when there is none. A checksum that is not 64 lower-case hex digits written without escapes is an error.
    /// </summary>
    private static int FindChecksum(byte[] header, Dictionary<string, string> metadata, Func<string, Exception> fail)
    {
        if (!metadata.ContainsKey("checksum")) return -1;
        var r = new Utf8JsonReader(header, new JsonReaderOptions { MaxDepth = 8 });
        int depth = 0;
        bool inMetadata = false;
        try
        {
            while (r.Read())
            {
                switch (r.TokenType)
                {
                    case JsonTokenType.StartObject: depth++; break;
                    case JsonTokenType.EndObject:
                        depth--;
                        if (depth == 1) inMetadata = false;
                        break;
                    case JsonTokenType.PropertyName when depth == 1 && r.ValueTextEquals(MetadataEntry):
                        inMetadata = true;
                        break;
                    case JsonTokenType.PropertyName when depth == 2 && inMetadata && r.ValueTextEquals("checksum"):
                        r.Read();
                        if (r.TokenType != JsonTokenType.String || r.ValueIsEscaped || r.ValueSpan.Length != DigitCount
                            || !IsLowerHex(r.ValueSpan))
                            throw fail("corrupt header: the checksum is not 64 lower-case hex digits");
                        return (int)r.TokenStartIndex + 1;
                }
            }
        }
        catch (JsonException e) { throw fail($"corrupt header: not valid JSON ({OneLine(e.Message)})"); }
        throw fail("corrupt header: checksum not found");
    }

    private static bool IsLowerHex(ReadOnlySpan<byte> s)
    {
        foreach (byte b in s) if (!(b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f')) return false;
        return true;
    }

    internal static string Truncate(string s) => s.Length <= 60 ? s : s[..60] + "…";

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');

    /// <summary>Builds a checkpoint of legacy tensors (used by the v1 reader).</summary>
    internal static CheckpointFile FromLegacy(string path, IEnumerable<(string Name, CheckpointTensor Tensor)> tensors)
    {
        var ck = new CheckpointFile { FilePath = path };
        foreach (var (name, t) in tensors) ck.Add(name, t);
        ck.Metadata["format"] = FormatName;
        ck.Metadata["format_version"] = "1";
        return ck;
    }
}
