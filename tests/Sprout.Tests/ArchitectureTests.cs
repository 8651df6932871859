using System.Reflection;
using System.Reflection.Emit;
using Xunit;

namespace Sprout.Tests;

/// <summary>
/// Layers point one way: Kernels ← Tensors + Autograd ← Nn, Optim, Data ← Training ← Diagnostics ← Growth ← Runs,
/// Reporting ← Experiments ← Cli. A type may name types of its own layer or lower ones, never a higher one. Checked on
/// the compiled assemblies: base types, interfaces, fields, properties, events, method signatures, locals, catch
/// clauses, attributes and every token in every method body (IL), compiler-generated types (lambdas, iterators,
/// async state machines) included.
/// </summary>
public class ArchitectureTests
{
    private static readonly (string Namespace, int Layer)[] Layers =
    [
        ("Sprout.Kernels", 0),
        ("Sprout.Tensors", 1), ("Sprout.Autograd", 1),
        ("Sprout.Nn", 2), ("Sprout.Optim", 2), ("Sprout.Data", 2),
        ("Sprout.Training", 3),
        ("Sprout.Diagnostics", 4),
        ("Sprout.Growth", 5),
        ("Sprout.Runs", 6), ("Sprout.Reporting", 6),
        ("Sprout.Experiments", 7),
        ("Sprout.Cli", 8),
    ];

    /// <summary>The layer of a namespace (sub-namespaces belong to their folder's layer), or −1 outside the map.</summary>
    internal static int LayerOf(string? ns)
    {
        if (ns is null) return -1;
        foreach (var (name, layer) in Layers)
            if (ns == name || ns.StartsWith(name + ".", StringComparison.Ordinal)) return layer;
        return -1;
    }

    private static int LayerOf(Type t) => LayerOf(Outermost(t).Namespace);

    private static Type Outermost(Type t)
    {
        while (t.DeclaringType is not null) t = t.DeclaringType;
        return t;
    }

    private static readonly Assembly[] Assemblies = [typeof(Sprout.Tensors.Tensor).Assembly, Assembly.Load(new AssemblyName("Sprout.Cli"))];

    [Fact]
    public void NoNamespaceReferencesAHigherLayer()
    {
        var offences = Violations(Assemblies.SelectMany(LoadableTypes));
        Assert.True(offences.Count == 0,
            $"{offences.Count} upward reference(s) (from → to):\n" + string.Join("\n", offences.Select(o => $"  {Name(o.From)} → {Name(o.To)}")));
    }

    [Fact]
    public void EveryNamespaceHasALayer()
    {
        // a new folder must be given its place in the layering (above)
        var unmapped = Assemblies.SelectMany(LoadableTypes)
            .Where(t => t.Namespace is { } ns && ns.StartsWith("Sprout", StringComparison.Ordinal) && LayerOf(t) < 0)
            .Select(t => t.Namespace).Distinct().ToList();
        Assert.True(unmapped.Count == 0, "namespaces without a layer: " + string.Join(", ", unmapped));
    }

    [Fact]
    public void TheCheckFindsUpwardReferencesWhereverTheyHide()
    {
        // probe types in namespace Sprout.Kernels.ArchitectureProbes (layer 0, below) name Growth and Training types
        // in a field, a signature, a method body, a lambda, an iterator, a catch clause and a generic argument
        var probes = typeof(Sprout.Kernels.ArchitectureProbes.FieldProbe).Assembly.GetTypes()
            .Where(t => Outermost(t).Namespace == "Sprout.Kernels.ArchitectureProbes").ToList();
        var found = Violations(probes).Select(o => (Outermost(o.From).Name, o.To.Name)).ToHashSet();
        Assert.Contains(("FieldProbe", "GrowthSchedule"), found);
        Assert.Contains(("SignatureProbe", "GrowthContext"), found);
        Assert.Contains(("BodyProbe", "Apportion"), found);
        Assert.Contains(("LambdaProbe", "StageTraining"), found);
        Assert.Contains(("IteratorProbe", "Loss"), found);
        Assert.Contains(("CatchProbe", "TrainingDivergedException"), found);
        Assert.Contains(("GenericProbe", "EpochStats"), found);
        Assert.Contains(("BaseProbe", "Extender"), found);
        Assert.DoesNotContain(found, f => f.Item1 == "CleanProbe");
    }

    private static IEnumerable<Type> LoadableTypes(Assembly a)
    {
        try
        {
            return a.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            return e.Types.OfType<Type>();
        }
    }

    private static string Name(Type t) => t.FullName ?? t.Name;

    /// <summary>Every (from, to) pair where a type names a type of a higher layer, sorted and distinct.</summary>
    internal static List<(Type From, Type To)> Violations(IEnumerable<Type> types)
    {
        var result = new HashSet<(Type, Type)>();
        foreach (var from in types)
        {
            int layer = LayerOf(from);
            if (layer < 0) continue;
            foreach (var to in References(from).SelectMany(Expand))
            {
                int target = LayerOf(to);
                if (target > layer) result.Add((from, to.IsGenericType ? to.GetGenericTypeDefinition() : to));
            }
        }
        return result.OrderBy(p => Name(p.Item1), StringComparer.Ordinal).ThenBy(p => Name(p.Item2), StringComparer.Ordinal).ToList();
    }

    // the named types inside a type reference: element types of arrays/pointers/by-refs, generic definitions and arguments
    private static IEnumerable<Type> Expand(Type? t)
    {
        if (t is null || t.IsGenericParameter) yield break;
        if (t.HasElementType)
        {
            foreach (var e in Expand(t.GetElementType())) yield return e;
            yield break;
        }
        if (t.IsGenericType && !t.IsGenericTypeDefinition)
        {
            yield return t.GetGenericTypeDefinition();
            foreach (var arg in t.GetGenericArguments())
                foreach (var e in Expand(arg)) yield return e;
            yield break;
        }
        yield return t;
    }

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    // every type a type's declaration and code name
    private static IEnumerable<Type?> References(Type t)
    {
        yield return t.BaseType;
        foreach (var i in t.GetInterfaces()) yield return i;
        if (t.IsGenericTypeDefinition)
            foreach (var p in t.GetGenericArguments())
                foreach (var c in p.GetGenericParameterConstraints()) yield return c;
        foreach (var a in Attributes(t.GetCustomAttributesData())) yield return a;
        foreach (var f in t.GetFields(All))
        {
            yield return f.FieldType;
            foreach (var a in Attributes(f.GetCustomAttributesData())) yield return a;
        }
        foreach (var p in t.GetProperties(All))
        {
            yield return p.PropertyType;
            foreach (var a in Attributes(p.GetCustomAttributesData())) yield return a;
        }
        foreach (var e in t.GetEvents(All)) yield return e.EventHandlerType;
        foreach (var m in t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)))
            foreach (var r in MethodReferences(m)) yield return r;
    }

    private static IEnumerable<Type> Attributes(IEnumerable<CustomAttributeData> attributes)
    {
        foreach (var a in attributes)
        {
            yield return a.AttributeType;
            foreach (var arg in a.ConstructorArguments.Concat(a.NamedArguments.Select(n => n.TypedValue)))
                if (arg.Value is Type named) yield return named;
        }
    }

    private static IEnumerable<Type?> MethodReferences(MethodBase m)
    {
        foreach (var a in Attributes(m.GetCustomAttributesData())) yield return a;
        if (m is MethodInfo mi) yield return mi.ReturnType;
        foreach (var p in m.GetParameters()) yield return p.ParameterType;
        if (m.IsGenericMethodDefinition)
            foreach (var g in m.GetGenericArguments())
                foreach (var c in g.GetGenericParameterConstraints()) yield return c;
        MethodBody? body;
        try
        {
            body = m.GetMethodBody();
        }
        catch (Exception e) when (e is InvalidOperationException or BadImageFormatException or NotSupportedException)
        {
            body = null;
        }
        if (body is null) yield break;
        foreach (var local in body.LocalVariables) yield return local.LocalType;
        foreach (var clause in body.ExceptionHandlingClauses)
            if (clause.Flags == ExceptionHandlingClauseOptions.Clause) yield return clause.CatchType;
        var il = body.GetILAsByteArray();
        if (il is null) yield break;
        foreach (var member in Operands(m, il))
            switch (member)
            {
                case Type type:
                    yield return type;
                    break;
                case MethodBase callee:
                    yield return callee.DeclaringType;
                    if (callee is MethodInfo { IsGenericMethod: true } gm)
                        foreach (var g in gm.GetGenericArguments()) yield return g;
                    break;
                case FieldInfo field:
                    yield return field.DeclaringType;
                    break;
                case MemberInfo other:
                    yield return other.DeclaringType;
                    break;
            }
    }

    private static readonly Dictionary<short, OpCode> OpCodeTable = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    // decodes the IL stream and resolves every token operand (calls, newobj, field access, ldtoken, casts, box, newarr, …)
    private static IEnumerable<MemberInfo> Operands(MethodBase m, byte[] il)
    {
        var module = m.Module;
        Type[]? typeArgs = m.DeclaringType is { IsGenericType: true } dt ? dt.GetGenericArguments() : null;
        Type[]? methodArgs = m.IsGenericMethod ? m.GetGenericArguments() : null;
        int pos = 0;
        while (pos < il.Length)
        {
            short code = il[pos++];
            if (code == 0xFE) code = unchecked((short)(0xFE00 | il[pos++]));
            if (!OpCodeTable.TryGetValue(code, out var op))
                throw new InvalidOperationException($"unknown IL opcode 0x{code:X} in {m.DeclaringType?.FullName}.{m.Name}");
            switch (op.OperandType)
            {
                case OperandType.InlineField:
                case OperandType.InlineMethod:
                case OperandType.InlineTok:
                case OperandType.InlineType:
                    int token = BitConverter.ToInt32(il, pos);
                    pos += 4;
                    if (Resolve(module, token, typeArgs, methodArgs) is { } member) yield return member;
                    break;
                case OperandType.InlineSwitch:
                    int n = BitConverter.ToInt32(il, pos);
                    pos += 4 + 4 * n;
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget:
                case OperandType.ShortInlineI:
                case OperandType.ShortInlineVar:
                    pos += 1;
                    break;
                case OperandType.InlineVar:
                    pos += 2;
                    break;
                case OperandType.InlineI8:
                case OperandType.InlineR:
                    pos += 8;
                    break;
                default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    pos += 4;
                    break;
            }
        }
    }

    // resolves a token in the method's generic context; without it (e.g. a token that needs another context), then
    // gives up on tokens that cannot be resolved at all rather than failing the whole check
    private static MemberInfo? Resolve(Module module, int token, Type[]? typeArgs, Type[]? methodArgs)
    {
        try
        {
            return module.ResolveMember(token, typeArgs, methodArgs);
        }
        catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException or MissingMemberException)
        {
            try
            {
                return module.ResolveMember(token);
            }
            catch (Exception e2) when (e2 is ArgumentException or BadImageFormatException or TypeLoadException or MissingMemberException)
            {
                return null;
            }
        }
    }
}
