using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Sprout.Cli;

/// <summary>
/// Runs a PyTorch baseline script from benchmarks/ (PyTorch on CPU in its best setting here) and returns the JSON
/// objects it prints, one per line.
/// </summary>
internal static class TorchBaseline
{
    public static (List<JsonElement> Lines, string Note) RunScript(string scriptName, IEnumerable<string> args, int threads)
    {
        var lines = new List<JsonElement>();
        var script = FindScript(scriptName);
        if (script is null) return (lines, $"not run: benchmarks/{scriptName} not found (run from the repository)");
        var psi = new ProcessStartInfo(Python()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--threads");
        psi.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
        // PyTorch's best setting on this machine (see docs/performance.md)
        psi.Environment.Remove("OPENBLAS_CORETYPE");
        psi.Environment["MALLOC_MMAP_THRESHOLD_"] = "33554432";
        psi.Environment["MALLOC_TRIM_THRESHOLD_"] = "4294967296";
        psi.Environment["MALLOC_TOP_PAD_"] = "268435456";
        psi.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        psi.Environment["MKL_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        Process? p;
        try { p = Process.Start(psi); }
        catch (System.ComponentModel.Win32Exception) { return (lines, "not run: python3 not found"); }
        if (p is null) return (lines, "not run: python3 did not start");
        var stderr = p.StandardError.ReadToEndAsync();
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null)
            if (line.StartsWith('{')) lines.Add(JsonDocument.Parse(line).RootElement.Clone());
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            var err = stderr.Result.Trim().Split('\n').LastOrDefault() ?? "";
            return (lines, err.Contains("No module named 'torch'", StringComparison.Ordinal)
                ? "not run: PyTorch not installed (benchmarks/setup.sh)"
                : $"failed: {err}");
        }
        return (lines, $"torch {TorchVersion()} via {script}");
    }

    /// <summary>The MLP baseline: seconds per epoch keyed by (widths, batch, threads).</summary>
    public static (Dictionary<(string, int, int), double> Results, string Note) Mlp(int[][] archs, int[] batches, int threads, int samples, int reps)
    {
        var cases = JsonSerializer.Serialize(archs.SelectMany(a => batches.Select(b => new object[] { a, b })));
        var (lines, note) = RunScript("torch_mlp.py",
            ["--cases", cases, "--samples", samples.ToString(CultureInfo.InvariantCulture), "--reps", reps.ToString(CultureInfo.InvariantCulture)], threads);
        var results = new Dictionary<(string, int, int), double>();
        foreach (var r in lines)
        {
            string name = string.Join("-", r.GetProperty("widths").EnumerateArray().Select(e => e.GetInt32()));
            results[(name, r.GetProperty("batch").GetInt32(), r.GetProperty("threads").GetInt32())] = r.GetProperty("seconds").GetDouble();
        }
        return (results, note);
    }

    private static string TorchVersion()
    {
        try
        {
            var psi = new ProcessStartInfo(Python(), ["-c", "import torch; print(torch.__version__)"]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string v = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return v;
        }
        catch (System.ComponentModel.Win32Exception) { return "?"; }
    }

    // The interpreter with Debian's python3-torch: SPROUT_PYTHON, else the system python3 (a pyenv/venv python3
    // earlier on PATH usually lacks torch), else whatever python3 is on PATH.
    private static string Python()
    {
        var env = Environment.GetEnvironmentVariable("SPROUT_PYTHON");
        if (!string.IsNullOrEmpty(env)) return env;
        return File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    }

    private static string? FindScript(string name)
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            var dir = new DirectoryInfo(start);
            while (dir is not null)
            {
                var f = Path.Combine(dir.FullName, "benchmarks", name);
                if (File.Exists(f)) return f;
                dir = dir.Parent;
            }
        }
        return null;
    }
}
