/* The grouped bar chart: per-language perplexity change and task accuracy. */
#include "report/chart.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define SHADE       "#f3ebda" /* held-out languages: a warm light band */
#define GRID        "#e4e4e4"
#define AXIS        "#555555"
#define WHISKER     "#262626"
#define REF_COLOR   "#303030"
#define PLOT_H      300.0
#define MARGIN_L    78.0
#define MARGIN_R    24.0
#define SUMMARY_GAP 26.0 /* extra room before the mean groups */
#define MAX_TICKS   64
#define MAX_LEGEND  (2 + 64)

/* Where everything goes, worked out before drawing. */
typedef struct bar_layout {
    double width, height;
    double plot_x, plot_y, plot_w; /* plot area, PLOT_H high */
    double group_w, bar_w;
    double legend_y;
    bool rotate; /* x labels at 45 degrees */
    mw_scale y;
    double ticks[MAX_TICKS];
    size_t n_ticks;
    mw_legend_item legend[MAX_LEGEND];
    size_t n_legend;
} bar_layout;

static double group_x(const mw_bar_chart *c, const bar_layout *L, size_t g) {
    double x = L->plot_x + (double)g * L->group_w;
    if (c->n_summary && g >= c->n_groups - c->n_summary) x += SUMMARY_GAP;
    return x;
}

static bool any_shaded(const mw_bar_chart *c) {
    for (size_t g = 0; c->shaded && g < c->n_groups; g++)
        if (c->shaded[g]) return true;
    return false;
}

static void legend_items(const mw_bar_chart *c, bar_layout *L) {
    size_t n = 0;
    for (size_t i = 0; i < c->n_series && n < MAX_LEGEND - 2; i++)
        L->legend[n++] = (mw_legend_item){c->series[i], c->colors[i], MW_LEGEND_BOX};
    if (c->ref && c->ref_label)
        L->legend[n++] = (mw_legend_item){c->ref_label, REF_COLOR, MW_LEGEND_DASH};
    if (any_shaded(c) && c->shade_label)
        L->legend[n++] = (mw_legend_item){c->shade_label, SHADE, MW_LEGEND_BOX};
    L->n_legend = n;
}

/* The value range the data needs: bars, whiskers, reference and base. */
static void data_range(const mw_bar_chart *c, double *lo, double *hi) {
    *lo = *hi = c->base;
    size_t n = c->n_groups * c->n_series;
    for (size_t i = 0; i < n; i++) {
        double v[3] = {c->value[i], c->lo ? c->lo[i] : NAN, c->hi ? c->hi[i] : NAN};
        for (int k = 0; k < 3; k++)
            if (isfinite(v[k]) && (!c->log || v[k] > 0)) {
                if (v[k] < *lo) *lo = v[k];
                if (v[k] > *hi) *hi = v[k];
            }
    }
    for (size_t g = 0; c->ref && g < c->n_groups; g++)
        if (isfinite(c->ref[g])) {
            if (c->ref[g] < *lo) *lo = c->ref[g];
            if (c->ref[g] > *hi) *hi = c->ref[g];
        }
}

static void y_axis(const mw_bar_chart *c, bar_layout *L) {
    double lo, hi;
    data_range(c, &lo, &hi);
    if (isfinite(c->y_min)) lo = c->y_min;
    if (isfinite(c->y_max)) hi = c->y_max;
    if (c->log) {
        /* a little room in log space so that no bar touches the frame */
        double a = log10(lo), b = log10(hi), pad = (b - a) * 0.06 + 0.01;
        /* the values written over the mean bars need room above them */
        double top = c->n_summary ? (b - a) * 0.16 + 0.03 : pad;
        lo = pow(10, a - (lo < c->base ? pad : 0));
        hi = pow(10, b + top);
        if (!isfinite(hi)) hi = DBL_MAX; /* absurd ratios still get an axis */
        L->n_ticks = mw_ticks_log(lo, hi, 8, L->ticks, MAX_TICKS);
    } else {
        if (!isfinite(c->y_max)) hi += (hi - lo) * (c->n_summary ? 0.16 : 0.04);
        if (!isfinite(c->y_min) && lo < c->base) lo -= (hi - lo) * (c->n_summary ? 0.12 : 0.03);
        L->n_ticks = mw_ticks_linear(&lo, &hi, 6, L->ticks, MAX_TICKS);
    }
    L->y = (mw_scale){lo, hi, L->plot_y + PLOT_H, L->plot_y, c->log};
}

/* The widest group label; notes (a short second line in a smaller font)
 * may reach into the gap between groups and do not count. */
static double widest_label(const mw_bar_chart *c, bool with_notes) {
    double w = 0;
    for (size_t g = 0; g < c->n_groups; g++) {
        double wl = mw_svg_text_width(MW_SVG_TICK, c->groups[g]);
        if (with_notes && c->group_notes && c->group_notes[g])
            wl += mw_svg_text_width(MW_SVG_TICK, " ") +
                  mw_svg_text_width(MW_SVG_TICK, c->group_notes[g]);
        if (wl > w) w = wl;
    }
    return w;
}

static void layout(const mw_bar_chart *c, bar_layout *L) {
    memset(L, 0, sizeof *L);
    double bar_w = c->n_series <= 2 ? 20 : c->n_series == 3 ? 14 : c->n_series == 4 ? 11 : 9;
    double group_w = (double)c->n_series * bar_w + (bar_w < 12 ? 12 : bar_w);
    double sep = c->n_summary ? SUMMARY_GAP : 0;
    double plot_w = (double)c->n_groups * group_w + sep;
    if (MARGIN_L + plot_w + MARGIN_R < 720) {
        /* few groups: wider groups rather than a narrow chart */
        plot_w = 720 - MARGIN_L - MARGIN_R;
        group_w = (plot_w - sep) / (double)c->n_groups;
        bar_w = group_w * 0.72 / (double)c->n_series;
        if (bar_w > 34) bar_w = 34;
    }
    L->width = MARGIN_L + plot_w + MARGIN_R;
    L->plot_x = MARGIN_L;
    L->plot_w = plot_w;
    L->group_w = group_w;
    L->bar_w = bar_w;
    L->rotate = widest_label(c, false) > group_w - 4;
    double label_w = widest_label(c, L->rotate);
    L->legend_y = (c->subtitle ? 64 : 44) + 4;
    legend_items(c, L);
    double legend_h = mw_chart_legend(NULL, MARGIN_L, L->legend_y, plot_w, L->legend, L->n_legend);
    L->plot_y = L->legend_y + legend_h + 16;
    double below = L->rotate ? label_w * 0.71 + 26 : 24;
    if (!L->rotate && c->group_notes) below += 13;
    L->height = L->plot_y + PLOT_H + below + (c->x_label ? 24 : 6);
    y_axis(c, L);
}

/* Bands behind held-out groups, one per run of neighbours, labelled once. */
static void draw_shading(mw_svg *s, const mw_bar_chart *c, const bar_layout *L) {
    for (size_t g = 0; c->shaded && g < c->n_groups;) {
        if (!c->shaded[g]) {
            g++;
            continue;
        }
        size_t e = g;
        while (e + 1 < c->n_groups && c->shaded[e + 1] &&
               (!c->n_summary || e + 1 != c->n_groups - c->n_summary))
            e++;
        double x0 = group_x(c, L, g), x1 = group_x(c, L, e) + L->group_w;
        mw_svg_rect(s, x0, L->plot_y, x1 - x0, PLOT_H, SHADE, NULL);
        g = e + 1;
    }
}

static void draw_grid(mw_svg *s, const mw_bar_chart *c, const bar_layout *L) {
    char label[64];
    for (size_t i = 0; i < L->n_ticks; i++) {
        double y = mw_scale_px(&L->y, L->ticks[i]);
        mw_svg_line(s, L->plot_x, y, L->plot_x + L->plot_w, y, GRID, 1, NULL);
        mw_chart_fmt(label, sizeof label, L->ticks[i], c->fmt, false);
        mw_svg_text(s, L->plot_x - 8, y + 4, MW_SVG_TICK, MW_SVG_END, 0, NULL, label);
    }
}

static void draw_bars(mw_svg *s, const mw_bar_chart *c, const bar_layout *L) {
    double y_base = mw_scale_px(&L->y, c->base);
    for (size_t g = 0; g < c->n_groups; g++) {
        double x0 = group_x(c, L, g) + (L->group_w - L->bar_w * (double)c->n_series) / 2;
        for (size_t k = 0; k < c->n_series; k++) {
            size_t i = g * c->n_series + k;
            double v = c->value[i];
            if (!isfinite(v) || (c->log && v <= 0)) continue;
            double x = x0 + L->bar_w * (double)k, y = mw_scale_px(&L->y, v);
            /* a hairline gap between neighbours keeps the bars apart */
            mw_svg_rect(s, x + 0.5, y, L->bar_w - 1, y_base - y, c->colors[k],
                        c->tips ? c->tips[i] : NULL);
        }
    }
}

static void draw_whiskers(mw_svg *s, const mw_bar_chart *c, const bar_layout *L) {
    if (!c->lo || !c->hi) return;
    double cap = L->bar_w * 0.3 > 4 ? 4 : L->bar_w * 0.3;
    for (size_t g = 0; g < c->n_groups; g++) {
        double x0 = group_x(c, L, g) + (L->group_w - L->bar_w * (double)c->n_series) / 2;
        for (size_t k = 0; k < c->n_series; k++) {
            size_t i = g * c->n_series + k;
            if (!isfinite(c->lo[i]) || !isfinite(c->hi[i]) || !isfinite(c->value[i])) continue;
            double x = x0 + L->bar_w * ((double)k + 0.5);
            double y0 = mw_scale_px(&L->y, c->lo[i]), y1 = mw_scale_px(&L->y, c->hi[i]);
            mw_svg_line(s, x, y0, x, y1, WHISKER, 1.2, NULL);
            mw_svg_line(s, x - cap, y0, x + cap, y0, WHISKER, 1.2, NULL);
            mw_svg_line(s, x - cap, y1, x + cap, y1, WHISKER, 1.2, NULL);
        }
    }
}

/* The reference level (chance) across each group. */
static void draw_ref(mw_svg *s, const mw_bar_chart *c, const bar_layout *L) {
    for (size_t g = 0; c->ref && g < c->n_groups; g++) {
        if (!isfinite(c->ref[g])) continue;
        double x = group_x(c, L, g), y = mw_scale_px(&L->y, c->ref[g]);
        mw_svg_line(s, x + 2, y, x + L->group_w - 2, y, REF_COLOR, 1.6, "5 3");
    }
}

/* Values over the mean bars: what a reader looks for first. */
static void draw_summary_values(mw_svg *s, const mw_bar_chart *c, const bar_layout *L) {
    char label[64];
    double y_base = mw_scale_px(&L->y, c->base);
    for (size_t g = c->n_groups - c->n_summary; g < c->n_groups; g++) {
        double x0 = group_x(c, L, g) + (L->group_w - L->bar_w * (double)c->n_series) / 2;
        for (size_t k = 0; k < c->n_series; k++) {
            double v = c->value[g * c->n_series + k];
            if (!isfinite(v) || (c->log && v <= 0)) continue;
            double x = x0 + L->bar_w * ((double)k + 0.5), y = mw_scale_px(&L->y, v);
            double hi = c->hi ? c->hi[g * c->n_series + k] : NAN;
            if (isfinite(hi)) y = mw_scale_px(&L->y, hi); /* above the whisker */
            mw_chart_fmt(label, sizeof label, v, c->fmt, true);
            /* read upwards, starting just beyond the bar's end */
            if (y <= y_base)
                mw_svg_text(s, x + 4, y - 4, MW_SVG_SMALL, MW_SVG_START, -90, NULL, label);
            else
                mw_svg_text(s, x + 4, y + 4, MW_SVG_SMALL, MW_SVG_END, -90, NULL, label);
        }
    }
}

static void draw_x_labels(mw_svg *s, const mw_bar_chart *c, const bar_layout *L) {
    double y = L->plot_y + PLOT_H + 17;
    for (size_t g = 0; g < c->n_groups; g++) {
        double x = group_x(c, L, g) + L->group_w / 2;
        bool italic = c->shaded && c->shaded[g];
        const char *note = c->group_notes ? c->group_notes[g] : NULL;
        if (L->rotate) {
            char both[160];
            snprintf(both, sizeof both, "%s%s%s", c->groups[g], note ? " " : "", note ? note : "");
            if (italic)
                mw_svg_text_italic(s, x + 4, y - 4, MW_SVG_TICK, MW_SVG_END, -45, both);
            else
                mw_svg_text(s, x + 4, y - 4, MW_SVG_TICK, MW_SVG_END, -45, NULL, both);
            continue;
        }
        if (italic)
            mw_svg_text_italic(s, x, y, MW_SVG_TICK, MW_SVG_MIDDLE, 0, c->groups[g]);
        else
            mw_svg_text(s, x, y, MW_SVG_TICK, MW_SVG_MIDDLE, 0, NULL, c->groups[g]);
        if (note) mw_svg_text(s, x, y + 13, MW_SVG_SMALL, MW_SVG_MIDDLE, 0, NULL, note);
    }
}

static void draw_frame(mw_svg *s, const mw_bar_chart *c, const bar_layout *L) {
    double y_base = mw_scale_px(&L->y, c->base);
    double bottom = L->plot_y + PLOT_H;
    mw_svg_line(s, L->plot_x, L->plot_y, L->plot_x, bottom, AXIS, 1, NULL);
    mw_svg_line(s, L->plot_x, y_base, L->plot_x + L->plot_w, y_base, AXIS, 1.2, NULL);
    if (fabs(y_base - bottom) > 0.5)
        mw_svg_line(s, L->plot_x, bottom, L->plot_x + L->plot_w, bottom, GRID, 1, NULL);
    if (c->n_summary) {
        double x = group_x(c, L, c->n_groups - c->n_summary) - SUMMARY_GAP / 2;
        mw_svg_line(s, x, L->plot_y, x, bottom, "#9a9a9a", 1, "2 3");
    }
    /* axis titles */
    double ymid = L->plot_y + PLOT_H / 2;
    mw_svg_text(s, 20, ymid, MW_SVG_LABEL, MW_SVG_MIDDLE, -90, NULL, c->y_label);
    if (c->x_label)
        mw_svg_text(s, L->plot_x + L->plot_w / 2, L->height - 10, MW_SVG_LABEL, MW_SVG_MIDDLE, 0,
                    NULL, c->x_label);
}

void mw_bar_chart_svg(const mw_bar_chart *c, mw_svg *s) {
    bar_layout L;
    layout(c, &L);
    mw_svg_begin(s, L.width, L.height, c->title);
    mw_chart_title(s, 16, c->title, c->subtitle);
    mw_chart_legend(s, MARGIN_L, L.legend_y, L.plot_w, L.legend, L.n_legend);
    draw_shading(s, c, &L);
    draw_grid(s, c, &L);
    draw_bars(s, c, &L);
    draw_whiskers(s, c, &L);
    draw_ref(s, c, &L);
    if (c->n_summary) draw_summary_values(s, c, &L);
    draw_frame(s, c, &L);
    draw_x_labels(s, c, &L);
    mw_svg_end(s);
}
