using Sprout.Tensors;

namespace Sprout.Nn;

/// <summary>
/// A network component: a forward function, named parameters (trainable leaves), named buffers (state such as
/// running statistics) and child modules. Built from a config (see <see cref="ModuleConfig"/>), never from one.
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Tensor Tensor)> _parameters = new();
    private readonly List<(string Name, Tensor Tensor)> _buffers = new();
    private readonly List<(string Name, Module Module)> _children = new();
    private readonly List<(string Name, Rng Rng)> _rngs = new();

    /// <summary>Whether the module is in training mode (dropout active, batch statistics used).</summary>
    public bool IsTraining { get; private set; } = true;

    /// <summary>Computes the output for a batch.</summary>
    public abstract Tensor Forward(Tensor x);

    /// <summary>
    /// What this layer declares about width growth (see <see cref="Nn.GrowthRole"/>); by default growth cannot pass it.
    /// </summary>
    public virtual GrowthRole GrowthRole => GrowthRole.Unsupported($"{this} declares no growth role");

    /// <summary>Registers a trainable parameter (marks it as requiring grad).</summary>
    protected Tensor RegisterParameter(string name, Tensor p)
    {
        p.RequiresGrad = true;
        p.Name ??= name;
        _parameters.Add((name, p));
        return p;
    }

    /// <summary>Registers a non-trainable state tensor.</summary>
    protected Tensor RegisterBuffer(string name, Tensor b)
    {
        b.Name ??= name;
        _buffers.Add((name, b));
        return b;
    }

    /// <summary>Registers a child module.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        _children.Add((name, module));
        return module;
    }

    /// <summary>Replaces the child module registered as <paramref name="name"/> (same name, same place).</summary>
    protected void ReplaceModule(string name, Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        int i = _children.FindIndex(c => c.Name == name);
        if (i < 0) throw new ArgumentException($"no child module named {name}");
        _children[i] = (name, module);
    }

    /// <summary>Registers a random stream the module draws from while it runs (e.g. dropout masks).</summary>
    protected Rng RegisterRng(string name, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        _rngs.Add((name, rng));
        return rng;
    }

    /// <summary>Direct children with their names.</summary>
    public IReadOnlyList<(string Name, Module Module)> Children => _children;

    /// <summary>Every parameter of this module and its descendants, with dotted path names.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (n, p) in _parameters) yield return (prefix + n, p);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedParameters(prefix + n + ".")) yield return x;
    }

    /// <summary>Every buffer of this module and its descendants, with dotted path names.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        foreach (var (n, b) in _buffers) yield return (prefix + n, b);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedBuffers(prefix + n + ".")) yield return x;
    }

    /// <summary>
    /// Every random stream of this module and its descendants (e.g. a dropout layer's "rng"), with dotted path names,
    /// so a checkpoint can save and restore them and a resumed run draws the same masks.
    /// </summary>
    public IEnumerable<(string Name, Rng Rng)> NamedRngs(string prefix = "")
    {
        foreach (var (n, r) in _rngs) yield return (prefix + n, r);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedRngs(prefix + n + ".")) yield return x;
    }

    /// <summary>
    /// The config that builds a module of this one's current shapes: a grown Linear 784→24 says OutFeatures 24, a
    /// Sequential describes every layer. Throws <see cref="NotSupportedException"/> for a module type without a config.
    /// </summary>
    public ModuleConfig ToConfig() => ConfigFor(t => t.ShapeArray());

    /// <summary>
    /// The config of this module if its tensors had the shapes <paramref name="shapeOf"/> gives (<see cref="ToConfig"/>
    /// passes their current shapes; loading a checkpoint passes the saved ones, to check a grown shape before
    /// adopting it). Every module type of Sprout.Nn overrides it.
    /// </summary>
    protected internal virtual ModuleConfig ConfigFor(Func<Tensor, int[]> shapeOf) =>
        throw new NotSupportedException($"{GetType().Name} cannot describe itself as a config");

    /// <summary>This module and all descendants, depth first, with dotted path names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        yield return (prefix.TrimEnd('.'), this);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedModules(prefix + n + ".")) yield return x;
    }

    /// <summary>Every trainable parameter.</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Number of trainable scalars.</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Length);

    /// <summary>Sets training (true) or evaluation (false) mode on this module and its descendants.</summary>
    public Module Train(bool training = true)
    {
        IsTraining = training;
        foreach (var (_, c) in _children) c.Train(training);
        return this;
    }

    /// <summary>Evaluation mode (composite of Train(false)).</summary>
    public Module Eval() => Train(false);

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <inheritdoc/>
    public override string ToString() => GetType().Name;
}
