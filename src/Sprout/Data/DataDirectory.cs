namespace Sprout.Data;

/// <summary>
/// Where data sets live: an explicit folder (e.g. <c>--data-dir</c>), else the environment variable
/// <c>SPROUT_DATA</c>, else a per-user cache: <c>$XDG_CACHE_HOME/sprout/data</c> when XDG_CACHE_HOME is set,
/// otherwise <c>~/.cache/sprout/data</c>. Each data set has its own sub-folder (e.g. <c>mnist/</c>).
/// </summary>
public static class DataDirectory
{
    /// <summary>Name of the environment variable that overrides the data folder.</summary>
    public const string EnvironmentVariable = "SPROUT_DATA";

    /// <summary>Resolves the data folder (not created here). <paramref name="explicitDir"/> wins when not empty.</summary>
    public static string Resolve(string? explicitDir = null)
    {
        if (!string.IsNullOrWhiteSpace(explicitDir)) return Path.GetFullPath(explicitDir);
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) return Path.GetFullPath(env);
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg)) return Path.Combine(xdg, "sprout", "data");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (string.IsNullOrEmpty(home)) home = Environment.GetEnvironmentVariable("HOME") ?? ".";
        return Path.Combine(home, ".cache", "sprout", "data");
    }
}
