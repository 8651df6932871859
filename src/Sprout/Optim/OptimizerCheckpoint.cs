using System.Globalization;
using System.Text.Json;
using Sprout.Nn;
using Sprout.Tensors;

namespace Sprout.Optim;

/// <summary>
/// An optimizer's state in a <see cref="CheckpointFile"/>: every slot of every parameter that has state as a tensor
/// "<c>prefix</c>&lt;parameter name&gt;/&lt;slot name&gt;" (at the shape the slots were made for), and as metadata
/// "<c>prefix</c>type" (the optimizer's type name), "<c>prefix</c>lr" (the current learning rate, round-trip) and
/// "<c>prefix</c>steps" (JSON object: parameter name → step count). Parameters are named by the module's
/// <see cref="Module.NamedParameters"/>. A restored optimizer continues training bit for bit.
/// </summary>
public static class OptimizerCheckpoint
{
    /// <summary>Adds the state of <paramref name="optimizer"/>, naming parameters as <paramref name="names"/> does.</summary>
    public static CheckpointFile AddOptimizer(this CheckpointFile checkpoint, string prefix, Optimizer optimizer,
        IEnumerable<(string Name, Tensor Parameter)> names)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(optimizer);
        var nameOf = NameMap(names);
        var slots = optimizer.SlotNames;
        var steps = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var p in optimizer.Parameters)
        {
            var st = optimizer.StateOf(p);
            if (st is null) continue;
            if (!nameOf.TryGetValue(p, out var name))
                throw new ArgumentException($"the optimizer has state for a parameter ({p.Name ?? "unnamed"}) the names do not cover");
            for (int i = 0; i < slots.Count; i++)
                checkpoint.Add(prefix + name + "/" + slots[i], new CheckpointTensor((int[])st.Shape.Clone(), (float[])st.Slots[i].Clone()));
            steps[name] = st.Step;
        }
        checkpoint.Metadata[prefix + "type"] = optimizer.GetType().Name;
        checkpoint.Metadata[prefix + "lr"] = optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture);
        checkpoint.Metadata[prefix + "steps"] = JsonSerializer.Serialize(steps);
        return checkpoint;
    }

    /// <summary>Adds the state of <paramref name="optimizer"/> over <paramref name="module"/>'s parameters.</summary>
    public static CheckpointFile AddOptimizer(this CheckpointFile checkpoint, string prefix, Optimizer optimizer, Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return checkpoint.AddOptimizer(prefix, optimizer, module.NamedParameters());
    }

    /// <summary>
    /// Replaces the state of <paramref name="optimizer"/> (same type as the saved one) with the saved state and sets
    /// its learning rate. Parameters without saved state start fresh. Throws <see cref="CheckpointException"/> when the
    /// entries are missing, malformed, of another optimizer type, for unknown parameters, or larger than a parameter.
    /// Nothing changes unless everything checks out.
    /// </summary>
    public static void LoadOptimizer(this CheckpointFile checkpoint, string prefix, Optimizer optimizer,
        IEnumerable<(string Name, Tensor Parameter)> names)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(optimizer);
        var byName = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (n, p) in names ?? throw new ArgumentNullException(nameof(names))) byName[n] = p;
        string type = checkpoint.GetMetadata(prefix + "type");
        if (type != optimizer.GetType().Name)
            throw checkpoint.Fail($"holds {CheckpointFile.Truncate(type)} state, the optimizer is {optimizer.GetType().Name}");
        if (!double.TryParse(checkpoint.GetMetadata(prefix + "lr"), NumberStyles.Float, CultureInfo.InvariantCulture, out double lr) || !(lr >= 0))
            throw checkpoint.Fail($"optimizer learning rate '{CheckpointFile.Truncate(checkpoint.GetMetadata(prefix + "lr"))}' is not a number ≥ 0");
        Dictionary<string, long>? steps;
        try { steps = JsonSerializer.Deserialize<Dictionary<string, long>>(checkpoint.GetMetadata(prefix + "steps")); }
        catch (JsonException e) { throw checkpoint.Fail($"optimizer steps are malformed ({e.Message})"); }
        if (steps is null) throw checkpoint.Fail("optimizer steps are missing");
        var slots = optimizer.SlotNames;
        var restored = new List<(Tensor P, int[] Shape, float[][] Slots, long Step)>();
        foreach (var (name, step) in steps)
        {
            if (!byName.TryGetValue(name, out var p)) throw checkpoint.Fail($"has optimizer state for '{CheckpointFile.Truncate(name)}', which is not a parameter here");
            if (!optimizer.Parameters.Contains(p)) throw checkpoint.Fail($"has optimizer state for '{name}', which this optimizer does not train");
            if (step < 0) throw checkpoint.Fail($"optimizer step count {step} of '{name}' is negative");
            var data = new float[slots.Count][];
            int[]? shape = null;
            for (int i = 0; i < slots.Count; i++)
            {
                var t = checkpoint.Get(prefix + name + "/" + slots[i]);
                if (shape is null)
                {
                    shape = t.Shape;
                    if (shape.Length != p.Rank || !Embed.IsGrowth(shape, p.Shape))
                        throw checkpoint.Fail($"optimizer state of '{name}' is {Tensor.FormatShape(shape)}, larger than or not like the parameter's {Tensor.FormatShape(p.Shape)}");
                }
                else if (!Tensor.SameShape(shape, t.Shape))
                    throw checkpoint.Fail($"optimizer slots of '{name}' have different shapes");
                data[i] = t.Data;
            }
            restored.Add((p, shape!, data, step));
        }
        optimizer.ResetState();
        foreach (var (p, shape, data, step) in restored) optimizer.SetState(p, shape, data, step);
        optimizer.LearningRate = lr;
    }

    /// <summary>Restores the state of <paramref name="optimizer"/> over <paramref name="module"/>'s parameters.</summary>
    public static void LoadOptimizer(this CheckpointFile checkpoint, string prefix, Optimizer optimizer, Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        checkpoint.LoadOptimizer(prefix, optimizer, module.NamedParameters());
    }

    private static Dictionary<Tensor, string> NameMap(IEnumerable<(string Name, Tensor Parameter)> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var map = new Dictionary<Tensor, string>(ReferenceEqualityComparer.Instance);
        foreach (var (n, p) in names) map.TryAdd(p, n);
        return map;
    }
}
