using Sprout.Growth;
using Sprout.Tensors;
using Sprout.Training;

// Types that break the layering on purpose, in a low layer's namespace (Kernels), so ArchitectureTests can show that
// its check finds each kind of reference. They live in the test assembly only and are never used.
namespace Sprout.Kernels.ArchitectureProbes;

internal sealed class FieldProbe
{
    public GrowthSchedule? Schedule = null;
}

internal static class SignatureProbe
{
    public static int Stage(GrowthContext? ctx) => ctx is null ? 0 : 1;
}

internal static class BodyProbe
{
    public static int Sum() => Apportion.LargestRemainder([1.0, 2.0], 3).Sum();
}

internal static class LambdaProbe
{
    public static Func<int> Make() => () => new StageTraining(3).Epochs;
}

internal static class IteratorProbe
{
    public static IEnumerable<int> Items()
    {
        yield return Loss.CrossEntropy.Name.Length;
    }
}

internal static class CatchProbe
{
    public static int Run(Action a)
    {
        try
        {
            a();
        }
        catch (TrainingDivergedException)
        {
            return 1;
        }
        return 0;
    }
}

internal static class GenericProbe
{
    public static int Count()
    {
        var list = new List<EpochStats>();
        return list.Count;
    }
}

internal sealed class BaseProbe : Extender
{
    public override string Name => "probe";

    protected override SiteExtension ExtendSite(GrowthContext ctx, int siteIndex, int count, Rng rng) => throw new NotSupportedException();
}

internal static class CleanProbe
{
    public static int Threads() => Workers.Threads + Math.Max(1, 2);
}
