/* Charts as inline SVG for the HTML report, and the markup text helpers
 * (escaping, numbers) the page shares with them; the contracts are in
 * svg.h.  Only what the report needs: no scripts, no fonts, nothing
 * loaded from elsewhere. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "compare/svg.h"

/* ---- markup text ----------------------------------------------------------------- */
void xd_html_esc_n(FILE *f, const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0, cut = n;
    if (n > max) {
        cut = max;
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) --cut;
    }
    for (size_t i = 0; i < cut; ++i) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (c < 0x20 && c != '\n' && c != '\t') fputs("&#xFFFD;", f);
            else fputc(c, f);
        }
    }
    if (cut < n) fputs("&#8230;", f); /* numeric: valid in XML too, should an SVG be cut out */
}
void xd_html_esc(FILE *f, const char *s) { xd_html_esc_n(f, s, SIZE_MAX); }

const char *xd_html_num(char *b, double v, int prec)
{
    if (isnan(v)) return "NaN";
    if (isinf(v)) return v > 0 ? "Inf" : "-Inf";
    if (prec <= 0) snprintf(b, 40, "%.0f", v);
    else snprintf(b, 40, "%.*g", prec, v);
    return b;
}

/* ---- SVG plot layer -------------------------------------------------------------- */
static const char *const palette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00",
                                      "#56b4e9", "#6e7781", "#8c564b", "#b8b000", "#17becf"};
#define NPALETTE (sizeof palette / sizeof *palette)
static const char *const dashes[] = {"", "8 4", "2 4", "10 4 2 4"};

const char *xd_svg_color(size_t j) { return palette[j % NPALETTE]; }
const char *xd_svg_dash(size_t j) { return dashes[(j / NPALETTE) % 4]; }

void xd_svg_range_add(svg_axis *a, double v)
{
    if (!isfinite(v) || (a->scale == SVG_LOG && v <= 0)) return;
    if (v < a->lo) a->lo = v;
    if (v > a->hi) a->hi = v;
}

static double nice_step(double raw, int integer)
{
    double mag = pow(10, floor(log10(raw))), r = raw / mag;
    double s = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
    return integer && s < 1 ? 1 : s;
}

void xd_svg_axis_fit(svg_axis *a)
{
    if (a->scale == SVG_CAT) return;
    if (!(a->hi >= a->lo)) a->lo = a->hi = a->scale == SVG_LOG ? 1 : 0; /* no data */
    if (a->scale == SVG_LOG) {
        a->lo = pow(10, floor(log10(a->lo) + 1e-9) - 1);
        a->hi = pow(10, fmax(floor(log10(a->hi) + 1e-9) + 1, log10(a->lo) + 2)); /* headroom above the top */
        return;
    }
    if (a->hi - a->lo < 1e-12 * fmax(1, fabs(a->hi))) a->lo -= 1, a->hi += 1;
    double s = nice_step((a->hi - a->lo) / 5, a->integer);
    a->lo = floor(a->lo / s + 1e-9) * s;
    a->hi = ceil(a->hi / s - 1e-9) * s;
}

/* Position of v along the axis, 0..1 (clamped: nothing leaves the frame). */
static double axis_frac(const svg_axis *a, double v)
{
    double t;
    if (a->scale == SVG_CAT) t = (v + 0.5) / (double)a->ncat;
    else if (a->scale == SVG_LOG) t = v <= a->lo ? 0 : (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    else t = (v - a->lo) / (a->hi - a->lo);
    return t < 0 ? 0 : t > 1 ? 1 : t;
}
static double px(const svg_plot *p, double v) { return p->l + axis_frac(&p->x, v) * p->w; }
static double py(const svg_plot *p, double v)
{
    double t = axis_frac(&p->y, v);
    return p->y.scale == SVG_CAT ? p->t + t * p->h : p->t + p->h - t * p->h;
}

static int axis_ticks(const svg_axis *a, double *t, int max)
{
    int n = 0;
    if (a->scale == SVG_CAT) {
        for (size_t i = 0; i < a->ncat && n < max; ++i) t[n++] = (double)i;
    } else if (a->scale == SVG_LOG) {
        int e0 = (int)lround(log10(a->lo)), e1 = (int)lround(log10(a->hi));
        int step = (e1 - e0 + 6) / 7;
        for (int e = e0; e <= e1 && n<max; e += step> 0 ? step : 1) t[n++] = pow(10, e);
    } else {
        double s = nice_step((a->hi - a->lo) / 5, a->integer);
        for (double k = ceil(a->lo / s - 1e-9); k * s <= a->hi + s * 1e-9 && n < max; ++k) t[n++] = k * s;
    }
    return n;
}

/* A tick label; log ticks are written 10 with a superscript exponent, except
 * the zero floor and plain-looking decades (0.01 ... 1000). */
static void tick_label(FILE *f, const svg_axis *a, double v)
{
    if (a->scale == SVG_CAT) {
        xd_html_esc_n(f, a->cat[(size_t)v], 28);
    } else if (a->scale == SVG_LOG) {
        int e = (int)lround(log10(v));
        if (v <= a->lo * 1.0000001) fputs("0", f);
        else if (e >= -2 && e <= 3) fprintf(f, "%g", pow(10, e));
        else fprintf(f, "10<tspan dy=\"-5\" font-size=\"9\">%d</tspan>", e);
    } else {
        fprintf(f, "%g", fabs(v) < 1e-12 ? 0.0 : v);
    }
}

/* Characters of label text that fit in px pixels (about 6.3 px a character
 * at 11 px). */
static size_t fit_chars(double pixels) { return pixels < 63 ? 10 : (size_t)(pixels / 6.3); }

static size_t legend_cols(const svg_plot *p, size_t n, const svg_series *s)
{
    size_t longest = 0;
    for (size_t i = 0; i < n; ++i) longest = strlen(s[i].label) > longest ? strlen(s[i].label) : longest;
    size_t fit = (size_t)(p->w / ((double)longest * 6.3 + 48)); /* columns that fit whole labels, at most 3 */
    return fit < 1 ? 1 : fit > 3 ? 3 : fit > n ? n : fit;
}

/* The two SVG elements everything is made of.  svg_text opens a <text>;
 * the caller writes the (escaped) content and "</text>". */
static void svg_line(FILE *f, double x1, double y1, double x2, double y2, const char *attrs)
{
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" %s/>", x1, y1, x2, y2, attrs);
}
static void svg_text(FILE *f, double x, double y, const char *cls)
{
    fprintf(f, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\">", cls, x, y);
}

void xd_svg_plot_begin(svg_plot *p, FILE *f, const char *title, double width, double h, double left, double right,
                       size_t nlegend, const svg_series *legend)
{
    p->f = f;
    p->width = width;
    p->l = left;
    p->t = 38;
    p->w = width - left - right;
    p->h = h;
    p->legend_y = p->t + h + (p->x.label ? 54 : 34);
    size_t cols = nlegend ? legend_cols(p, nlegend, legend) : 1;
    size_t legend_rows = (nlegend + cols - 1) / cols; /* whole rows: integer division intended */
    double height = p->legend_y + (double)legend_rows * 18 + 4;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "role=\"img\" aria-label=\"",
            width, height, width, height);
    xd_html_esc(f, title);
    fputs("\">\n", f);
    svg_text(f, left, 20, "title");
    xd_html_esc(f, title);
    fprintf(f, "</text>\n<rect class=\"area\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n", p->l, p->t,
            p->w, p->h);
    double t[64];
    int n = axis_ticks(&p->x, t, 64);
    for (int i = 0; i < n; ++i) { /* the zero floor of a log axis gets a dashed line */
        double x = px(p, t[i]);
        svg_line(f, x, p->t, x, p->t + p->h, p->x.scale == SVG_LOG && i == 0 ? "class=\"gl0\"" : "class=\"gl\"");
        svg_text(f, x, p->t + p->h + 16, "tx");
        tick_label(f, &p->x, t[i]);
        fputs("</text>\n", f);
    }
    n = axis_ticks(&p->y, t, 64);
    for (int i = 0; i < n; ++i) {
        double y = py(p, t[i]);
        if (p->y.scale != SVG_CAT)
            svg_line(f, p->l, y, p->l + p->w, y, p->y.scale == SVG_LOG && i == 0 ? "class=\"gl0\"" : "class=\"gl\"");
        svg_text(f, p->l - 7, y + 4, "ty");
        if (p->y.scale == SVG_CAT) xd_html_esc_n(f, p->y.cat[(size_t)t[i]], fit_chars(left - 12));
        else tick_label(f, &p->y, t[i]);
        fputs("</text>\n", f);
    }
    if (p->x.label) {
        svg_text(f, p->l + p->w / 2, p->t + p->h + 36, "axl tx");
        xd_html_esc(f, p->x.label);
        fputs("</text>\n", f);
    }
    if (p->y.label) {
        fprintf(f, "<text class=\"axl tx\" transform=\"translate(15 %.1f) rotate(-90)\">", p->t + p->h / 2);
        xd_html_esc(f, p->y.label);
        fputs("</text>\n", f);
    }
}

void xd_svg_plot_end(svg_plot *p) { fputs("</svg>\n", p->f); }

void xd_svg_plot_legend(svg_plot *p, size_t n, const svg_series *s)
{
    size_t cols = legend_cols(p, n, s);
    double colw = (p->width - p->l - 10) / (double)cols;
    for (size_t i = 0; i < n; ++i) {
        size_t row = i / cols, col = i % cols; /* integer division intended */
        double x = p->l + (double)col * colw, y = p->legend_y + (double)row * 18;
        char attrs[128];
        snprintf(attrs, sizeof attrs, "stroke=\"%s\" stroke-width=\"%.1f\" stroke-dasharray=\"%s\"", s[i].color,
                 s[i].width < 2.5 ? 2.5 : s[i].width, s[i].dash ? s[i].dash : "");
        svg_line(p->f, x, y - 4, x + 26, y - 4, attrs);
        fprintf(p->f, "<text x=\"%.1f\" y=\"%.1f\"><title>", x + 32, y);
        xd_html_esc(p->f, s[i].label);
        fputs("</title>", p->f);
        xd_html_esc_n(p->f, s[i].label, fit_chars(colw - 40));
        fputs("</text>\n", p->f);
    }
}

void xd_svg_plot_line(svg_plot *p, const svg_series *s, size_t n, const double *x, const double *y, int markers)
{
    FILE *f = p->f;
    int open = 0, gap = 0;
    /* x and y hold n points, filled by every caller (the analyzer cannot
     * follow thin()/the snapshot loops that fill them) */
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(x[i])) continue; // NOLINT(clang-analyzer-core.CallAndMessage)
        if (!isfinite(y[i])) {         // NOLINT(clang-analyzer-core.CallAndMessage)
            if (open) fputs("\"/>\n", f);
            if (!gap) {
                svg_text(f, px(p, x[i]), p->t + 12, "nanmark");
                fprintf(f, "%s</text>\n", XD_NUM(y[i], 3));
            }
            open = 0;
            gap = 1;
            continue;
        }
        gap = 0;
        if (!open)
            fprintf(f, "<polyline stroke=\"%s\" stroke-width=\"%.1f\" stroke-dasharray=\"%s\" points=\"", s->color,
                    s->width, s->dash ? s->dash : "");
        open = 1;
        fprintf(f, "%.1f,%.1f ", px(p, x[i]), py(p, y[i]));
    }
    if (open) fputs("\"/>\n", f);
    for (size_t i = 0; i < n; ++i) {
        int zero = p->y.scale == SVG_LOG && y[i] <= 0;
        if (!markers || !isfinite(x[i]) || !isfinite(y[i])) continue; // NOLINT(clang-analyzer-core.CallAndMessage)
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" %s=\"%s\"%s><title>%s %s: %s</title></circle>\n",
                px(p, x[i]), py(p, y[i]), zero ? 3.5 : 3.0, zero ? "stroke" : "fill", s->color,
                zero ? " fill=\"#fff\" stroke-width=\"1.5\"" : "", p->x.label ? p->x.label : "x", XD_NUM(x[i], 6),
                XD_NUM(y[i], 4));
    }
}

void xd_svg_plot_ref(svg_plot *p, int vertical, double v, const char *label)
{
    const svg_axis *a = vertical ? &p->x : &p->y;
    if (!isfinite(v) || (a->scale == SVG_LOG && v <= 0)) return;
    if (vertical) {
        double x = px(p, v);
        int room_left = x > p->l + 0.7 * p->w; /* near the right edge: label to the left of the line */
        svg_line(p->f, x, p->t, x, p->t + p->h, "class=\"ref\"");
        svg_text(p->f, x + (room_left ? -4 : 4), p->t - 4, room_left ? "reft ty" : "reft");
    } else {
        svg_line(p->f, p->l, py(p, v), p->l + p->w, py(p, v), "class=\"ref\"");
        svg_text(p->f, p->l + p->w - 4, py(p, v) - 4, "reft ty");
    }
    fprintf(p->f, "%s %s</text>\n", label, XD_NUM(v, 3));
}

void xd_svg_plot_hbars(svg_plot *p, size_t n, const double *v, const char *const *colors, const char *color, int prec)
{
    double bh = p->h / (double)n * 0.68;
    for (size_t i = 0; i < n; ++i) {
        double y = py(p, (double)i), x = p->l;
        if (isfinite(v[i]) && v[i] > (p->x.scale == SVG_LOG ? 0 : p->x.lo)) {
            x = px(p, v[i]);
            fprintf(p->f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"2\" fill=\"%s\"><title>",
                    p->l, y - bh / 2, x - p->l, bh, colors ? colors[i] : color);
            xd_html_esc(p->f, p->y.cat[i]);
            fprintf(p->f, ": %s</title></rect>", XD_NUM(v[i], prec));
        }
        svg_text(p->f, x + 5, y + 4, isfinite(v[i]) ? "val" : "val nanv");
        fprintf(p->f, "%s</text>\n", XD_NUM(v[i], prec));
    }
}
