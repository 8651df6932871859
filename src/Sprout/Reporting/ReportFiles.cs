namespace Sprout.Reporting;

/// <summary>One chart a report wrote, as SVG (inlined in the HTML) and PNG (linked from the Markdown).</summary>
/// <param name="Name">File stem under charts/ (e.g. "loss", "cosine-fc1").</param>
/// <param name="Title">The chart's title.</param>
/// <param name="Caption">What the chart shows, as the report's caption.</param>
/// <param name="Svg">Path of charts/&lt;name&gt;.svg.</param>
/// <param name="Png">Path of charts/&lt;name&gt;.png.</param>
/// <param name="Series">Legend text of every data series drawn (curves, bar groups or histogram lines).</param>
public sealed record ReportChart(string Name, string Title, string Caption, string Svg, string Png, IReadOnlyList<string> Series);

/// <summary>What a report or comparison wrote.</summary>
/// <param name="Markdown">The Markdown document (report.md or compare.md); it links the PNG charts.</param>
/// <param name="Html">The self-contained HTML document (report.html or compare.html); every chart is inline SVG.</param>
/// <param name="Charts">The charts, in document order.</param>
public sealed record ReportFiles(string Markdown, string Html, IReadOnlyList<ReportChart> Charts);
