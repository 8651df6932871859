using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Text.Json;
using Sprout.Training;

namespace Sprout.Cli;

/// <summary>Raised for a bad command line that the parser cannot see (e.g. an option two others rule out); printed as one line, exit 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The <c>sprout</c> command line on System.CommandLine: the command tree, help and usage errors are the library's;
/// this class keeps Sprout's conventions on top. Every expected failure is one line <c>sprout: error: …</c> on stderr;
/// exit code 2 for a usage error (unknown command or option, bad or missing value), 1 for bad input (unreadable or
/// corrupt files, invalid configs, a diverging run), 70 for an internal error (stack trace with SPROUT_DEBUG=1).
/// </summary>
/// <remarks>
/// Adding a command: a file with <c>static Command Create()</c> that declares the command's own options beside it,
/// adds the shared ones from <see cref="SharedOptions"/>, and sets an action reading typed values with
/// <c>parseResult.GetValue(option)</c>; then one line in <see cref="BuildRoot"/>.
/// </remarks>
internal static class Cli
{
    private static readonly Lazy<RootCommand> Root = new(BuildRoot);

    /// <summary>The command tree (built once: options are shared between commands).</summary>
    internal static RootCommand RootCommand => Root.Value;

    private static RootCommand BuildRoot()
    {
        var root = new RootCommand("sprout — grow neural networks while they train. Every run is reproducible: the same --seed " +
                                   "and --threads give bit-identical results.")
        {
            HelpName = "sprout",
        };
        root.Add(RunCommand.Create());
        root.Add(RunCommand.CreateGrow());
        root.Add(RunCommand.CreateTrain());
        root.Add(RunsCommands.CreateResume());
        root.Add(RunsCommands.CreateEval());
        root.Add(RunsCommands.CreateReport());
        root.Add(RunsCommands.CreateCompare());
        root.Add(GradCamCommand.Create());
        root.Add(ExperimentCommands.Create());
        root.Add(SweepCommand.Create());
        root.Add(DataCommands.Create());
        root.Add(BenchCommands.Create());
        var help = new Command("help", "show this help") { Hidden = true };
        help.SetAction(_ => Run(["--help"]));
        root.Add(help);
        ShowHelpWithoutSubcommand(root);
        return root;
    }

    // A command that only groups others (sprout, sprout bench, …) prints its help and exits 2 when called alone.
    private static void ShowHelpWithoutSubcommand(Command command)
    {
        if (command.Action is null && command.Subcommands.Count > 0)
            command.SetAction(p =>
            {
                new HelpAction { MaxWidth = HelpWidth() }.Invoke(p);
                return 2;
            });
        foreach (var sub in command.Subcommands) ShowHelpWithoutSubcommand(sub);
    }

    private static int HelpWidth() => Console.IsOutputRedirected ? 120 : Math.Max(80, Console.WindowWidth);

    /// <summary>Parses and runs a command line; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        try
        {
            var parsed = RootCommand.Parse(args);
            if (parsed.Action is ParseErrorAction)
            {
                // a usage error is the same on every rank of a job: rank 0 says it
                if (Cluster.World is not { Rank: > 0 }) Console.Error.WriteLine($"sprout: error: {OneLine(FirstError(parsed))}");
                return 2;
            }
            if (parsed.Action is HelpAction help) help.MaxWidth = HelpWidth();
            return parsed.Invoke(new InvocationConfiguration
            {
                Output = Console.Out,
                Error = Console.Error,
                EnableDefaultExceptionHandler = false,   // exceptions reach the handlers below
                ProcessTerminationTimeout = null,        // no Ctrl+C handling by the library
            });
        }
        catch (Exception e) when (e is Sprout.Data.DataFormatException or Sprout.Nn.CheckpointException)
        {
            Console.Error.WriteLine($"{Cluster.Who}error: {OneLine(e.Message)}");
            return 1;
        }
        catch (Exception e) when (e is UsageException or ArgumentException or InvalidOperationException or IOException
                                      or UnauthorizedAccessException or JsonException or TrainingDivergedException or FormatException or NotSupportedException)
        {
            if (!(e is UsageException && Cluster.World is { Rank: > 0 })) Console.Error.WriteLine($"{Cluster.Who}error: {OneLine(e.Message)}");
            return e is UsageException ? 2 : 1;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("SPROUT_DEBUG") is null)
        {
            Console.Error.WriteLine($"{Cluster.Who}internal error: {e.GetType().Name}: {OneLine(e.Message)} (set SPROUT_DEBUG=1 for a stack trace)");
            return 70;
        }
    }

    // The first parse error as one line. Tokens that match nothing are named by what they look like, against the
    // command they were given to: an unknown option, an unknown subcommand, or an unexpected argument.
    private static string FirstError(ParseResult parsed)
    {
        var command = parsed.CommandResult.Command;
        string path = CommandPath(parsed);
        string see = $" (see {path} --help)";
        if (parsed.UnmatchedTokens.Count > 0)
        {
            string token = parsed.UnmatchedTokens[0];
            if (token.StartsWith('-')) return $"unknown option {token} for '{path}'{see}";
            if (command.Subcommands.Count > 0)
                return $"unknown command '{token}' (known: {string.Join(", ", command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}){see}";
            return $"unexpected argument '{token}'{see}";
        }
        return parsed.Errors.Count > 0 ? parsed.Errors[0].Message + see : "bad command line" + see;
    }

    private static string CommandPath(ParseResult parsed)
    {
        var names = new List<string>();
        for (var r = parsed.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Add(r.Parent is null ? "sprout" : r.Command.Name);
        names.Reverse();
        return string.Join(' ', names);
    }

    private static string OneLine(string s) => s.Replace('\r', ' ').Replace('\n', ' ');
}
