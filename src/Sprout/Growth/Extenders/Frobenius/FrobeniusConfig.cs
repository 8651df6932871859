using System.Text.Json.Serialization;

namespace Sprout.Growth;

/// <summary>
/// The frobenius extender (<see cref="FrobeniusExtender"/>) as a config: JSON <c>{"type": "frobenius"}</c>, optionally
/// <c>"normalStd": 1</c>.
/// </summary>
/// <param name="NormalStd">
/// null (the default; not written then): the new neurons get PyTorch's default init before the rescaling. A number σ:
/// their incoming weights and bias are drawn from N(0, σ²) instead (as <see cref="RandomConfig.NormalStd"/>).
/// </param>
/// <param name="NormalOutgoing">With <paramref name="NormalStd"/>: the new neurons' outgoing weights are N(0, σ²) too
/// (false, the default, keeps them U(±1/√consumer fan-in); not written then).</param>
public sealed record FrobeniusConfig(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? NormalStd = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool NormalOutgoing = false) : ExtenderConfig
{
    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        RandomConfig.ValidateStd("frobenius", NormalStd);
        if (NormalOutgoing && NormalStd is null) throw new ArgumentException("frobenius: normalOutgoing needs normalStd");
    }

    /// <inheritdoc/>
    protected override Extender Create() => new FrobeniusExtender(Label, NormalStd, NormalOutgoing);
}
