/* The compare stage's charts: a small SVG plot layer (axes with linear, log
 * and category scales, polylines, horizontal bars, reference lines, legend)
 * so that every chart of the HTML report (report_html.c) looks alike, and
 * the markup text helpers the page shares with it.  Never installed. */
#ifndef XD_HOST_COMPARE_SVG_H
#define XD_HOST_COMPARE_SVG_H

#include <stddef.h>
#include <stdio.h>

/* ---- markup text ----------------------------------------------------------------- */
/* HTML-escapes at most `max` bytes of s (never cutting a UTF-8 sequence),
 * adding an ellipsis when cut.  Control characters become U+FFFD: they are
 * parse errors in HTML and have no business in a device id.  Every string
 * that comes from a trace or a run goes through these. */
void xd_html_esc_n(FILE *f, const char *s, size_t max);
void xd_html_esc(FILE *f, const char *s);
/* Numbers as text into b (40 bytes); NaN / Inf spelled out (printf's "nan" /
 * "inf" vary).  prec 0: an integer.  XD_NUM() gives each use its own
 * buffer, so several can appear in one fprintf. */
const char *xd_html_num(char *b, double v, int prec);
#define XD_NUM(v, prec) xd_html_num((char[40]){0}, (v), (prec))

/* ---- plots ----------------------------------------------------------------------- */
enum { SVG_LIN, SVG_LOG, SVG_CAT };

typedef struct svg_axis {
    int scale;
    double lo, hi; /* data range, then the drawn range after xd_svg_axis_fit() */
    int integer;   /* ticks at whole numbers only (steps) */
    size_t ncat;   /* SVG_CAT: categories, drawn top to bottom */
    const char *const *cat;
    const char *label;
} svg_axis;

typedef struct svg_plot {
    FILE *f;
    double l, t, w, h; /* plot area, SVG pixels */
    double width, legend_y;
    svg_axis x, y;
} svg_plot;

typedef struct svg_series {
    const char *label, *color, *dash;
    double width;
} svg_series;

/* Colour and dash pattern of the j-th of many series: the palette's
 * colours, then the same colours dashed. */
const char *xd_svg_color(size_t j);
const char *xd_svg_dash(size_t j);

/* Widens the axis' data range to take v (non-finite values, and values <= 0
 * on a log axis, are left out).  Start from lo = INFINITY, hi = -INFINITY. */
void xd_svg_range_add(svg_axis *a, double v);
/* Widens the data range to what is drawn.  Linear: out to whole tick steps.
 * Log: whole decades, the top one strictly above the largest value (a
 * tolerance line never sits on the frame), plus one decade below the
 * smallest value, which is the "zero floor": exact zeros (bitwise-equal
 * tensors, ULP 0) sit there, and that tick is labelled 0. */
void xd_svg_axis_fit(svg_axis *a);

/* Opens the <svg>: title, frame, grid, ticks and axis labels.  Set p->x,
 * p->y (fitted) first; h is the plot area's height; left/right are margins
 * for tick and value labels; legend entries get rows below the x axis. */
void xd_svg_plot_begin(svg_plot *p, FILE *f, const char *title, double width, double h, double left, double right,
                       size_t nlegend, const svg_series *legend);
void xd_svg_plot_end(svg_plot *p);
/* The legend, in the rows xd_svg_plot_begin() left for it. */
void xd_svg_plot_legend(svg_plot *p, size_t n, const svg_series *s);
/* One series through (x[i], y[i]): a gap at each non-finite point, marked
 * "NaN"/"Inf" at the top of the frame; on a log y axis values <= 0 sit on
 * the zero floor.  markers: a dot with a tooltip on every point (hollow on
 * the zero floor), for sparse data such as snapshots. */
void xd_svg_plot_line(svg_plot *p, const svg_series *s, size_t n, const double *x, const double *y, int markers);
/* A dashed reference line (a tolerance) across the frame at v, labelled
 * above its top end (vertical) or its right end (horizontal). */
void xd_svg_plot_ref(svg_plot *p, int vertical, double v, const char *label);
/* Horizontal bars, one per category of the y axis, from the left of the
 * (log) x axis to each value, the value written after the bar; 0 and NaN
 * get a text only.  colors: one per bar, or NULL for all `color`. */
void xd_svg_plot_hbars(svg_plot *p, size_t n, const double *v, const char *const *colors, const char *color, int prec);

#endif
