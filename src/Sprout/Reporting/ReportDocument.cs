using System.Text;
using System.Text.RegularExpressions;

namespace Sprout.Reporting;

/// <summary>
/// A report as a list of blocks (headings, paragraphs, tables, charts, code) written both as Markdown (charts as
/// linked PNGs) and as one self-contained HTML page (charts as inline SVG, CSS in the page, no scripts).
/// </summary>
internal sealed partial class ReportDocument(string title)
{
    private abstract record Block;
    private sealed record HeadingBlock(int Level, string Text) : Block;
    private sealed record ParagraphBlock(string Text, bool Note) : Block;
    private sealed record TableBlock(string[] Header, List<string[]> Rows, bool[] Numeric) : Block;
    private sealed record FigureBlock(ReportChart Chart, string Svg) : Block;
    private sealed record CodeBlock(string Text, string Language) : Block;

    private readonly List<Block> _blocks = [];
    private int _figures;

    /// <summary>The document's title (the page's h1).</summary>
    public string Title { get; } = title;

    public void Heading(string text, int level = 2) => _blocks.Add(new HeadingBlock(level, text));

    public void Paragraph(string text) => _blocks.Add(new ParagraphBlock(text, false));

    /// <summary>A paragraph in a quieter style (explanations, caveats).</summary>
    public void Note(string text) => _blocks.Add(new ParagraphBlock(text, true));

    /// <summary>A table; <paramref name="numeric"/> marks right-aligned columns (null: none).</summary>
    public void Table(string[] header, IEnumerable<string[]> rows, bool[]? numeric = null) =>
        _blocks.Add(new TableBlock(header, rows.ToList(), numeric ?? new bool[header.Length]));

    public void Code(string text, string language) => _blocks.Add(new CodeBlock(text, language));

    /// <summary>A chart whose SVG and PNG are on disk; the SVG is read now and inlined into the HTML.</summary>
    public void Figure(ReportChart chart) =>
        _blocks.Add(new FigureBlock(chart, InlineSvg(File.ReadAllText(chart.Svg), $"f{++_figures}-", chart.Title)));

    /// <summary>The Markdown text; chart paths are made relative to <paramref name="baseDir"/>.</summary>
    public string ToMarkdown(string baseDir)
    {
        var sb = new StringBuilder();
        sb.Append("# ").Append(Title).Append("\n\n");
        foreach (var b in _blocks)
        {
            switch (b)
            {
                case HeadingBlock h:
                    sb.Append('#', h.Level).Append(' ').Append(h.Text).Append("\n\n");
                    break;
                case ParagraphBlock p:
                    sb.Append(p.Note ? "_" + p.Text + "_" : p.Text).Append("\n\n");
                    break;
                case TableBlock t:
                    sb.Append("| ").Append(string.Join(" | ", t.Header.Select(Cell))).Append(" |\n|");
                    for (int i = 0; i < t.Header.Length; i++) sb.Append(t.Numeric[i] ? " ---: |" : " --- |");
                    sb.Append('\n');
                    foreach (var r in t.Rows) sb.Append("| ").Append(string.Join(" | ", r.Select(Cell))).Append(" |\n");
                    sb.Append('\n');
                    break;
                case FigureBlock f:
                    string png = Path.GetRelativePath(baseDir, f.Chart.Png).Replace('\\', '/');
                    string svg = Path.GetRelativePath(baseDir, f.Chart.Svg).Replace('\\', '/');
                    sb.Append("![").Append(f.Chart.Title).Append("](").Append(png).Append(")\n\n")
                      .Append('*').Append(f.Chart.Caption).Append("* ([SVG](").Append(svg).Append("))\n\n");
                    break;
                case CodeBlock c:
                    sb.Append("```").Append(c.Language).Append('\n').Append(c.Text.TrimEnd()).Append("\n```\n\n");
                    break;
            }
        }
        return sb.ToString();

        static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
    }

    /// <summary>The self-contained HTML page.</summary>
    public string ToHtml()
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
          .Append("<title>").Append(E(Title)).Append("</title>\n<style>\n").Append(Css).Append("</style>\n</head>\n<body>\n<main>\n")
          .Append("<h1>").Append(E(Title)).Append("</h1>\n");
        foreach (var b in _blocks)
        {
            switch (b)
            {
                case HeadingBlock h:
                    sb.Append($"<h{h.Level}>").Append(E(h.Text)).Append($"</h{h.Level}>\n");
                    break;
                case ParagraphBlock p:
                    sb.Append(p.Note ? "<p class=\"note\">" : "<p>").Append(E(p.Text)).Append("</p>\n");
                    break;
                case TableBlock t:
                    sb.Append("<div class=\"table\"><table>\n<thead><tr>");
                    for (int i = 0; i < t.Header.Length; i++)
                        sb.Append(t.Numeric[i] ? "<th class=\"num\">" : "<th>").Append(E(t.Header[i])).Append("</th>");
                    sb.Append("</tr></thead>\n<tbody>\n");
                    foreach (var r in t.Rows)
                    {
                        sb.Append("<tr>");
                        for (int i = 0; i < r.Length; i++)
                            sb.Append(i < t.Numeric.Length && t.Numeric[i] ? "<td class=\"num\">" : "<td>").Append(E(r[i])).Append("</td>");
                        sb.Append("</tr>\n");
                    }
                    sb.Append("</tbody></table></div>\n");
                    break;
                case FigureBlock f:
                    sb.Append("<figure id=\"chart-").Append(E(f.Chart.Name)).Append("\">\n").Append(f.Svg)
                      .Append("\n<figcaption>").Append(E(f.Chart.Caption)).Append("</figcaption>\n</figure>\n");
                    break;
                case CodeBlock c:
                    sb.Append("<pre><code>").Append(E(c.Text.TrimEnd())).Append("</code></pre>\n");
                    break;
            }
        }
        sb.Append("</main>\n</body>\n</html>\n");
        return sb.ToString();
    }

    /// <summary>HTML-escapes markup characters only (the page is UTF-8, so "±" stays "±").</summary>
    private static string E(string s) =>
        s.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
         .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&quot;", StringComparison.Ordinal);

    /// <summary>
    /// ScottPlot's SVG made fit to sit inline beside others: no XML declaration, ids prefixed (every chart's clip
    /// paths are numbered alike, and the first one in a page would win), a viewBox so CSS can scale it, and a label.
    /// </summary>
    internal static string InlineSvg(string svg, string prefix, string label)
    {
        svg = XmlDeclaration().Replace(svg, "");
        svg = IdAttribute().Replace(svg, m => $"id=\"{prefix}{m.Groups[1].Value}\"");
        svg = UrlReference().Replace(svg, m => $"url(#{prefix}{m.Groups[1].Value})");
        svg = HrefReference().Replace(svg, m => $"{m.Groups[1].Value}=\"#{prefix}{m.Groups[2].Value}\"");
        var root = SvgRoot().Match(svg);
        if (root.Success)
        {
            string w = root.Groups[2].Value, h = root.Groups[3].Value;
            svg = svg[..root.Index] + root.Value.TrimEnd('>')
                  + (root.Value.Contains("viewBox", StringComparison.Ordinal) ? "" : $" viewBox=\"0 0 {w} {h}\"")
                  + $" role=\"img\" aria-label=\"{E(label)}\">" + svg[(root.Index + root.Length)..];
        }
        return svg.Trim();
    }

    [GeneratedRegex(@"<\?xml[^>]*\?>\s*")]
    private static partial Regex XmlDeclaration();

    [GeneratedRegex("\\bid=\"([^\"]+)\"")]
    private static partial Regex IdAttribute();

    [GeneratedRegex(@"url\(#([^)]+)\)")]
    private static partial Regex UrlReference();

    [GeneratedRegex("((?:xlink:)?href)=\"#([^\"]+)\"")]
    private static partial Regex HrefReference();

    [GeneratedRegex("<svg\\b([^>]*?)\\bwidth=\"([0-9.]+)\"\\s+height=\"([0-9.]+)\"[^>]*>")]
    private static partial Regex SvgRoot();

    private const string Css = """
        :root { color-scheme: light; }
        body { margin: 0; background: #f4f5f7; color: #1f2328;
               font: 16px/1.55 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; }
        main { max-width: 1040px; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff; min-height: 100vh; }
        h1 { font-size: 1.9rem; margin: .5rem 0 1rem; padding-bottom: .4rem; border-bottom: 3px solid #1f77b4; }
        h2 { font-size: 1.35rem; margin: 2.2rem 0 .6rem; padding-bottom: .25rem; border-bottom: 1px solid #e3e5e8; }
        h3 { font-size: 1.1rem; margin: 1.6rem 0 .4rem; }
        p { margin: .5rem 0 .8rem; }
        p.note { color: #57606a; font-size: .92rem; }
        .table { overflow-x: auto; margin: .6rem 0 1rem; }
        table { border-collapse: collapse; font-size: .9rem; }
        th, td { border: 1px solid #d8dbe0; padding: .3rem .65rem; text-align: left; vertical-align: top; }
        th { background: #eef1f5; font-weight: 600; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.num { white-space: nowrap; }
        tbody tr:nth-child(even) td { background: #f9fafb; }
        figure { margin: 1.2rem 0 1.6rem; padding: .6rem .6rem .2rem; border: 1px solid #e3e5e8; border-radius: 8px; }
        figure svg { display: block; width: 100%; height: auto; }
        figcaption { color: #57606a; font-size: .9rem; padding: .4rem .4rem .5rem; }
        pre { background: #f6f8fa; border: 1px solid #e3e5e8; border-radius: 8px; padding: .8rem 1rem;
              overflow: auto; max-height: 32rem; font-size: .82rem; line-height: 1.45; }
        code { font-family: ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; }

        """;
}
