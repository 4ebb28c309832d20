using System.Globalization;
using System.Net;
using System.Text;

namespace PtReplay.Reports.Html;

/// <summary>
/// An SVG plot embedded in a page as a data URI inside a figure, so the page stays self-contained: one form for every
/// plot the reports write.
/// </summary>
public static class SvgFigure
{
    /// <summary>Appends <paramref name="svg"/> as an image titled <paramref name="title"/> (its alt text), with an optional caption.</summary>
    public static void Append(StringBuilder html, string title, int width, int height, string svg, string? caption = null)
    {
        ArgumentNullException.ThrowIfNull(html);
        ArgumentNullException.ThrowIfNull(svg);
        html.Append(CultureInfo.InvariantCulture,
            $"<figure><img alt=\"{WebUtility.HtmlEncode(title)}\" width=\"{width}\" height=\"{height}\" src=\"data:image/svg+xml;base64,{Convert.ToBase64String(Encoding.UTF8.GetBytes(svg))}\">");
        if (caption is not null)
        {
            html.Append("<figcaption>").Append(WebUtility.HtmlEncode(caption)).Append("</figcaption>");
        }

        html.Append("</figure>\n");
    }
}
