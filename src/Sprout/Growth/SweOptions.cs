using Sprout.Nn;

namespace Sprout.Growth;

/// <summary>
/// Settings of the Shared-Weights Extender. Three presets: <see cref="Paper"/> (paper 000 §2.3),
/// <see cref="Reference"/> (the authors' code, methods §2) and <see cref="Plus"/> (our improvement).
/// </summary>
/// <param name="CouplingStd">Couplings start at N(0, std²); 0 = zeros (paper).</param>
/// <param name="NewInit">Init of the new neurons' own incoming weights w_new.</param>
/// <param name="NewBiasDefault">New biases U(±1/√fan_in) (true) or 0.</param>
/// <param name="AdjustSteps">Optimizer steps of the adjustment phase; 0 = none; −1 = one full epoch.</param>
/// <param name="BatchSize">Mini-batch size of the adjustment phase.</param>
/// <param name="Shuffle">Shuffle the adjustment batches (false = data order).</param>
/// <param name="LearningRate">Adam learning rate of the adjustment phase.</param>
/// <param name="WeightDecay">Adam L2 weight decay in the adjustment phase.</param>
/// <param name="DecayBase">The base weights sit in the adjustment optimizer with zero gradient, so weight decay shrinks
/// them (authors' code); false = truly frozen.</param>
/// <param name="TopFirst">Process the top hidden layer first.</param>
/// <param name="ScaleCouplingStep">Divide the coupling learning rate by the largest number of couplings feeding one
/// effective weight, so no neuron moves more than one learning-rate step per update.</param>
/// <param name="GroupCouplings">Symmetry breaking: every old neuron donates to one new neuron only (a random balanced
/// assignment), so new neurons receive different gradient signals instead of the shared −Σ g_old.</param>
/// <param name="DeadCheck">After each site's merge, revive new neurons that are inactive on the check samples.</param>
/// <param name="DeadCheckSamples">Training samples used by the dead-neuron check and its report.</param>
/// <param name="ReviveActiveFraction">A revived neuron's bias is set so it is active on this share of the check samples.</param>
/// <param name="MinActiveFraction">The dead-neuron check also revives new neurons active on fewer than this share of the
/// check samples (0 = only fully dead ones); such near-dead units are the ones that die in the next epochs.</param>
/// <param name="DonateFraction">Couplings start as a donated share α of the donor's own weights and bias
/// (c_{j,i} = α·[w_i, b_i] split over the new neurons i donates to), so each new neuron starts from a live
/// neuron's direction and the old neuron keeps (1−α) of it; the old neuron's outgoing weights are divided by (1−α),
/// which keeps the function exactly for positively homogeneous activations (ReLU). Needs grouped couplings.</param>
/// <param name="NewInitScale">Factor on the new neurons' own initial weights w_new (symmetry-breaking noise).</param>
/// <param name="NextLearningRate">Adam learning rate of the consumer layer in the adjustment phase (NaN = <paramref name="LearningRate"/>);
/// a fresh Adam's first steps move every weight by about one learning rate, which is what costs accuracy.</param>
/// <param name="CenterNewBias">Before the adjustment phase, set each new neuron's bias so it is active on
/// <paramref name="ReviveActiveFraction"/> of the check samples (function-preserving: outgoing weights are still 0).</param>
public sealed record SweOptions(
    double CouplingStd = 0,
    InitScheme NewInit = InitScheme.KaimingNormal,
    bool NewBiasDefault = false,
    int AdjustSteps = 1,
    int BatchSize = 100,
    bool Shuffle = false,
    double LearningRate = 1e-3,
    double WeightDecay = 0,
    bool DecayBase = false,
    bool TopFirst = false,
    bool ScaleCouplingStep = false,
    bool GroupCouplings = false,
    bool DeadCheck = false,
    int DeadCheckSamples = 2000,
    double ReviveActiveFraction = 0.5,
    bool CenterNewBias = false,
    double MinActiveFraction = 0,
    double DonateFraction = 0,
    double NewInitScale = 1,
    double NextLearningRate = double.NaN)
{
    /// <summary>Paper: couplings 0, Kaiming w_new, bias 0, zero outgoing, one Adam step (lr 1e-3) on one batch.</summary>
    public static SweOptions Paper { get; } = new();

    /// <summary>
    /// Authors' code: couplings N(0,1)·1e-4, w_new/b_new U(±1/√fan_in), top layer first, one full epoch of Adam
    /// (lr 1e-3, weight decay 1e-4 that also shrinks the "frozen" base weights), batches of 100 in data order.
    /// </summary>
    public static SweOptions Reference { get; } = new(CouplingStd: 1e-4, NewInit: InitScheme.PyTorchDefault, NewBiasDefault: true,
        AdjustSteps: -1, BatchSize: 100, Shuffle: false, LearningRate: 1e-3, WeightDecay: 1e-4, DecayBase: true, TopFirst: true);

    /// <summary>
    /// Ours: truly frozen base weights, coupling step scaled to the layer sizes, grouped couplings (symmetry
    /// breaking: each new neuron borrows from its own donors), zero couplings and Kaiming w_new at full scale, one
    /// shuffled epoch of Adam (lr 1e-3, weight decay 1e-4 on couplings and the next layer), a dead-neuron check after
    /// every per-layer merge. (An earlier version donated half of each donor's weights to its new neuron: function
    /// preserving, but the halves stayed correlated — mean cosine 0.40 — and the final accuracy was lower.)
    /// </summary>
    public static SweOptions Plus { get; } = new(CouplingStd: 0, NewInit: InitScheme.KaimingNormal, NewBiasDefault: false,
        AdjustSteps: -1, BatchSize: 100, Shuffle: true, LearningRate: 1e-3, WeightDecay: 1e-4, DecayBase: false, TopFirst: true,
        ScaleCouplingStep: true, GroupCouplings: true, DeadCheck: true, CenterNewBias: false, MinActiveFraction: 0.05,
        DonateFraction: 0, NewInitScale: 1);

    /// <summary>
    /// <see cref="Plus"/> whose adjustment also decays the base weights (weight decay 1e-4 through the gradient, as the
    /// authors' code does by accident): a shrink-and-perturb of the old neurons. It costs accuracy right after
    /// insertion but ends higher after stage training (docs/growth.md has the measurements).
    /// </summary>
    public static SweOptions PlusShrink { get; } = Plus with { DecayBase = true };
}
