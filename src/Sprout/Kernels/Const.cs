namespace Sprout.Kernels;

/// <summary>
/// A small integer known to the JIT: a kernel generic over <c>TN : struct, IConst</c> is compiled once per
/// constant, with every <c>if (TN.N &gt; i)</c> folded away, so one source gives register-blocked kernels of
/// several widths (1…6 rows or columns) without repeating their bodies.
/// </summary>
internal interface IConst { static abstract int N { get; } }

internal struct N1 : IConst { public static int N => 1; }
internal struct N2 : IConst { public static int N => 2; }
internal struct N3 : IConst { public static int N => 3; }
internal struct N4 : IConst { public static int N => 4; }
internal struct N5 : IConst { public static int N => 5; }
internal struct N6 : IConst { public static int N => 6; }
