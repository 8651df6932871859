using System.Text.Json.Serialization;

namespace Sprout.Growth;

/// <summary>
/// The random extender (<see cref="RandomExtender"/>) as a config: JSON <c>{"type": "random"}</c>, optionally
/// <c>"normalStd": 1</c>.
/// </summary>
/// <param name="NormalStd">
/// null (the default; not written then): PyTorch's default init, incoming weights and bias U(±1/√fan_in). A number σ:
/// the new neurons' incoming weights and bias are drawn from N(0, σ²) instead (paper 000 Table 1 leaves the
/// "standard initialization" open; σ = 1 is torch.randn). Outgoing weights stay U(±1/√consumer fan-in) either way.
/// </param>
/// <param name="NormalOutgoing">With <paramref name="NormalStd"/>: the new neurons' outgoing weights are N(0, σ²) too
/// (false, the default, keeps them U(±1/√consumer fan-in); not written then).</param>
public sealed record RandomConfig(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? NormalStd = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool NormalOutgoing = false) : ExtenderConfig
{
    /// <summary>The largest accepted <see cref="NormalStd"/>.</summary>
    public const double MaxNormalStd = 1000;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        ValidateStd("random", NormalStd);
        if (NormalOutgoing && NormalStd is null) throw new ArgumentException("random: normalOutgoing needs normalStd");
    }

    internal static void ValidateStd(string method, double? std)
    {
        if (std is { } s && !(s > 0 && s <= MaxNormalStd))
            throw new ArgumentException($"{method}: normalStd must be in (0, {MaxNormalStd}] (null: PyTorch's default init), got {s}");
    }

    /// <inheritdoc/>
    protected override Extender Create() => new RandomExtender(Label, NormalStd, NormalOutgoing);
}
