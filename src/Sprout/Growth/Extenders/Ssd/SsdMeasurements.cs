using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sprout.Growth;

/// <summary>
/// The splitting directions the <see cref="SsdDistributor"/> measured in a growth step, kept for the
/// <see cref="SsdExtender"/> of the same step: valid for the same model, stage and measurement settings while the weights
/// (parameters and BatchNorm statistics) are unchanged.
/// </summary>
internal static class SsdMeasurements
{
    private sealed record Entry(int Stage, string Key, int Fingerprint, IReadOnlyDictionary<int, SplittingDirections> Directions);

    private static readonly ConditionalWeakTable<GrowableModel, Entry> Table = new();

    public static void Store(GrowthContext ctx, SsdConfig settings, IReadOnlyDictionary<int, SplittingDirections> directions) =>
        Table.AddOrUpdate(ctx.Model, new Entry(ctx.Stage, Key(settings), Fingerprint(ctx.Model), directions));

    public static IReadOnlyDictionary<int, SplittingDirections>? Find(GrowthContext ctx, SsdConfig settings)
    {
        if (!Table.TryGetValue(ctx.Model, out var e)) return null;
        if (e.Stage != ctx.Stage || e.Key != Key(settings) || e.Fingerprint != Fingerprint(ctx.Model)) return null;
        return e.Directions;
    }

    private static string Key(SsdConfig c) =>
        FormattableString.Invariant($"{c.Variant}|{c.Batches}|{c.BatchSize}|{c.Epochs}|{c.LearningRate:R}|{c.Solver}");

    private static int Fingerprint(GrowableModel model)
    {
        var h = new HashCode();
        foreach (var p in model.Parameters()) h.AddBytes(MemoryMarshal.AsBytes(p.Span));
        foreach (var site in model.Sites)
        {
            if (site.Norm?.RunningMean is { } m) h.AddBytes(MemoryMarshal.AsBytes(m.Span));
            if (site.Norm?.RunningVar is { } v) h.AddBytes(MemoryMarshal.AsBytes(v.Span));
            foreach (var t in site.Tied) h.AddBytes(MemoryMarshal.AsBytes(t.Tensor.Span));   // a depthwise conv's filter and BatchNorm
        }
        return h.ToHashCode();
    }
}
