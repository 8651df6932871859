using System.CommandLine;
using Sprout.Cli;
using Xunit;
using static Sprout.Tests.Cli.CliHarness;

namespace Sprout.Tests.Cli;

/// <summary>The command tree: help on every command, usage errors as one line with exit 2, options declared once.</summary>
// Swaps Console.Out/Error (and a run would set Workers.Threads): serialised with the other tests that do.
[Collection("Workers")]
public class CliCommandTests
{
    // every visible command as its path from the root ("" is sprout itself)
    private static IEnumerable<(string Path, Command Command)> Commands(Command c, string path)
    {
        yield return (path, c);
        foreach (var sub in c.Subcommands.Where(s => !s.Hidden))
            foreach (var x in Commands(sub, (path + " " + sub.Name).Trim())) yield return x;
    }

    private static IEnumerable<(string Path, Command Command)> AllCommands() => Commands(Sprout.Cli.Cli.RootCommand, "");

    public static TheoryData<string> CommandPaths() => new(AllCommands().Select(c => c.Path));

    private static string[] Split(string args) => args.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void TodaysCommandsAllExist()
    {
        var paths = AllCommands().Select(c => c.Path).ToHashSet();
        string[] expected = ["", "run", "grow", "train", "resume", "eval", "report", "compare", "experiment", "experiment swe-inactive", "experiment swe-deep", "experiment grow",
            "data", "data fetch", "data info", "data bench", "bench", "bench gemm", "bench mlp", "bench cnn", "bench step"];
        Assert.Empty(expected.Except(paths));
    }

    [Theory]
    [MemberData(nameof(CommandPaths))]
    public void HelpOnEveryCommandExitsZeroAndListsItsOptions(string path)
    {
        var command = AllCommands().Single(c => c.Path == path).Command;
        var (code, stdout, err) = Run([.. Split(path), "--help"]);
        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Contains("Usage:", stdout);
        Assert.Contains(("sprout " + path).Trim(), stdout);
        foreach (var o in command.Options.Where(o => !o.Hidden)) Assert.Contains(o.Name, stdout);
        foreach (var a in command.Arguments) Assert.Contains($"<{a.HelpName ?? a.Name}>", stdout);
        foreach (var s in command.Subcommands.Where(s => !s.Hidden)) Assert.Contains(s.Name, stdout);
        // -h is the same help
        Assert.Equal(stdout, Run([.. Split(path), "-h"]).Out);
    }

    [Fact]
    public void HelpCommandShowsTheCommands()
    {
        var (code, stdout, _) = Run("help");
        Assert.Equal(0, code);
        foreach (var name in new[] { "run", "experiment", "data", "bench" }) Assert.Contains(name, stdout);
    }

    [Theory]
    [InlineData("")]
    [InlineData("experiment")]
    [InlineData("data")]
    [InlineData("bench")]
    public void CommandGroupAloneShowsItsHelpAndExitsTwo(string path)
    {
        var (code, stdout, err) = Run(Split(path));
        Assert.Equal(2, code);
        Assert.Contains("Usage:", stdout);
        Assert.Equal("", err);
    }

    [Theory]
    // unknown command, option or argument
    [InlineData("frobnicate", "unknown command 'frobnicate'")]
    [InlineData("bench frobnicate", "unknown command 'frobnicate'")]
    [InlineData("experiment nope", "unknown command 'nope'")]
    [InlineData("run --bogus 1", "unknown option --bogus")]
    [InlineData("bench gemm --frob", "unknown option --frob")]
    [InlineData("data fetch mnist extra", "unexpected argument 'extra'")]
    // bad numbers
    [InlineData("run --stages zero", "--stages must be an integer from 1 to 100, got 'zero'")]
    [InlineData("run --epochs 1.5", "--epochs must be an integer")]
    [InlineData("run --seed -1", "--seed must be an integer from 0")]
    [InlineData("run --grow-percent abc", "--grow-percent must be a number")]
    [InlineData("bench mlp --threads 1,x", "--threads: 'x' is not an integer")]
    [InlineData("bench step --model 784-0-10", "--model: takes two or more positive layer widths")]
    [InlineData("bench gemm --shape 1,2,3", "--shape takes m,n,k,ta,tb")]
    // out of range
    [InlineData("run --stages 101", "--stages must be an integer from 1 to 100, got '101'")]
    [InlineData("run --grow-percent 0", "--grow-percent must be a number from 1 to 1000, got '0'")]
    [InlineData("run --threads 0", "--threads must be an integer from 1 to 256, got '0'")]
    [InlineData("experiment swe-inactive --seeds 0", "--seeds must be an integer from 1 to 100")]
    [InlineData("data bench --epochs 0", "--epochs must be an integer from 1 to 1000")]
    [InlineData("bench mlp --models 785-10", "--models: MNIST-sized widths start at 784")]
    [InlineData("bench mlp --batches 64,0", "--batches: '0' is not an integer from 1")]
    [InlineData("run --widths 784-0-10", "--widths: '0' is not an integer from 1")]
    // values outside a fixed set
    [InlineData("run --dataset nope", "--dataset must be mnist, fashion-mnist, cifar10, cifar100, spirals or moons, got 'nope'")]
    [InlineData("run --extender nope", "--extender must be swe, swe-reference,")]
    [InlineData("run --distributor nope", "--distributor must be svod, svod-topn, ras,")]
    [InlineData("experiment swe-inactive --scale huge", "--scale must be quick or paper, got 'huge'")]
    [InlineData("experiment swe-deep --dataset both", "--dataset must be mnist or fashion-mnist")]
    [InlineData("data fetch nosuch", "unknown data set 'nosuch'")]
    // missing value or argument
    [InlineData("run --stages", "--stages")]
    [InlineData("data fetch", "missing")]
    [InlineData("resume", "Required argument 'run' missing")]
    [InlineData("compare", "runs")]
    public void UsageErrorIsOneLineAndExitsTwo(string args, string message)
    {
        var (code, stdout, err) = Run(Split(args));
        Assert.Equal(2, code);
        AssertOneLineError(err, message);
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("2-4-3-2")]   // the form the help shows (W0-W1-…)
    [InlineData("2,4,3,2")]
    public void WidthsAreReadInTheFormTheHelpShows(string widths)
    {
        string dir = Directory.CreateTempSubdirectory("sprout-widths-").FullName;
        try
        {
            string run = Path.Combine(dir, "run");
            var (code, _, err) = Run("train", "--dataset", "spirals", "--widths", widths, "--epochs", "1", "--train-samples", "200",
                "--threads", "1", "--no-progress", "--out", run);
            Assert.True(code == 0, err);
            Assert.Equal(new[] { 2, 4, 3, 2 }, Sprout.Runs.RunSession.Open(run).Config.Growth.Widths);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void DatasetAliasesAreAccepted()
    {
        // fmnist is accepted for fashion-mnist: the error is then about the missing file, not the name
        string empty = Directory.CreateTempSubdirectory("sprout-empty-").FullName;
        try
        {
            var (code, _, err) = Run("data", "info", "fmnist", "--data-dir", empty);
            Assert.Equal(1, code);
            AssertOneLineError(err, "fashion-mnist");
        }
        finally { Directory.Delete(empty, recursive: true); }
    }

    [Fact]
    public void MissingDataFileExitsOneWithOneLine()
    {
        string empty = Directory.CreateTempSubdirectory("sprout-empty-").FullName;
        try
        {
            var (code, _, err) = Run("data", "info", "mnist", "--data-dir", empty);
            Assert.Equal(1, code);
            AssertOneLineError(err, "file is missing");
        }
        finally { Directory.Delete(empty, recursive: true); }
    }

    [Fact]
    public void EachOptionIsDeclaredOnce()
    {
        var options = AllCommands().SelectMany(c => c.Command.Options).Where(o => o.Name != "--help" && o.Name != "--version").ToList();
        // no copy of a declaration: options with the same name and description are one object
        foreach (var same in options.GroupBy(o => (o.Name, o.Description)))
            Assert.Single(same.Distinct());
        // the shared options are reused by every command that takes them
        foreach (string name in new[] { "--data-dir", "--json", "--no-progress", "--seed", "--out", "--save", "--config", "--train-samples" })
            Assert.Single(options.Where(o => o.Name == name).Distinct());
        Assert.True(options.Count(o => o.Name == "--data-dir") >= 6);
    }

    [Fact]
    public void AnAbsentListOptionIsNullSoItsCommandUsesItsDefault()
    {
        // bench mlp read an absent --models as an empty list and measured nothing
        var list = Opt.List("--items", "A,B", "items", s => Opt.IntItem(s, 1, 9));
        var command = new Command("t") { list };
        Assert.Null(command.Parse("").Given(list));
        Assert.Equal([1, 2], command.Parse("--items 1,2").Given(list)!);
    }
}
