/* The step chart: one value per decoder block and run (target sparsity). */
#include "report/chart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GRID       "#e4e4e4"
#define AXIS       "#555555"
#define REF_COLOR  "#6b6b6b"
#define PLOT_H     280.0
#define MARGIN_L   78.0
#define MARGIN_R   24.0
#define MAX_TICKS  64
#define MAX_LEGEND 66

static void value_range(const mw_step_chart *c, double *lo, double *hi) {
    *lo = HUGE_VAL;
    *hi = -HUGE_VAL;
    for (size_t i = 0; i < c->n_series * c->n_x; i++)
        if (isfinite(c->value[i])) {
            if (c->value[i] < *lo) *lo = c->value[i];
            if (c->value[i] > *hi) *hi = c->value[i];
        }
    if (isfinite(c->ref)) {
        if (c->ref < *lo) *lo = c->ref;
        if (c->ref > *hi) *hi = c->ref;
    }
    if (*lo > *hi) *lo = *hi = 0;
    /* flat runs (Wanda) would otherwise fill the plot with one line: show at
     * least a few points of sparsity around them */
    double span = *hi - *lo, mid = (*hi + *lo) / 2, min_span = 4;
    if (span < min_span) {
        *lo = mid - min_span / 2;
        *hi = mid + min_span / 2;
    } else {
        *lo -= span * 0.08;
        *hi += span * 0.08;
    }
}

/* Later series are drawn thinner on top of earlier ones, so that runs with
 * the same values (Wanda and magnitude are both flat) still show each colour. */
static double series_width(size_t k, size_t n) {
    if (n <= 1) return 3;
    double w = 6.5 - 1.5 * (double)k;
    return w < 2 ? 2 : w;
}

static void draw_series(mw_svg *s, const mw_step_chart *c, size_t k, const mw_scale *xs,
                        const mw_scale *ys) {
    const double *v = c->value + k * c->n_x;
    double pts[2 * 2 * 1024];
    size_t n = 0;
    /* a path per stretch of consecutive blocks with values */
    for (size_t i = 0; i <= c->n_x; i++) {
        bool have = i < c->n_x && isfinite(v[i]);
        if (have && n + 2 <= 2 * 1024) {
            double y = mw_scale_px(ys, v[i]);
            pts[2 * n] = mw_scale_px(xs, (double)i - 0.5);
            pts[2 * n + 1] = y;
            pts[2 * n + 2] = mw_scale_px(xs, (double)i + 0.5);
            pts[2 * n + 3] = y;
            n += 2;
            continue;
        }
        if (n) mw_svg_polyline(s, pts, n, c->colors[k], series_width(k, c->n_series), NULL);
        n = 0;
    }
    double r = series_width(k, c->n_series) * 0.5 + 1.8;
    for (size_t i = 0; i < c->n_x; i++)
        if (isfinite(v[i]))
            mw_svg_circle(s, mw_scale_px(xs, (double)i), mw_scale_px(ys, v[i]), r, c->colors[k],
                          "#ffffff", c->tips ? c->tips[k * c->n_x + i] : NULL);
}

void mw_step_chart_svg(const mw_step_chart *c, mw_svg *s) {
    double plot_w = (double)c->n_x * 30;
    if (plot_w < 600) plot_w = 600;
    double width = MARGIN_L + plot_w + MARGIN_R;
    mw_legend_item items[MAX_LEGEND];
    size_t n_items = 0;
    for (size_t k = 0; k < c->n_series && n_items < MAX_LEGEND - 1; k++)
        items[n_items++] = (mw_legend_item){c->series[k], c->colors[k], MW_LEGEND_LINE};
    if (isfinite(c->ref) && c->ref_label)
        items[n_items++] = (mw_legend_item){c->ref_label, REF_COLOR, MW_LEGEND_DASH};
    double legend_y = (c->subtitle ? 64 : 44) + 4;
    double plot_y =
        legend_y + mw_chart_legend(NULL, MARGIN_L, legend_y, plot_w, items, n_items) + 16;
    double height = plot_y + PLOT_H + 24 + 30;

    double lo, hi, ticks[MAX_TICKS];
    value_range(c, &lo, &hi);
    size_t n_ticks = mw_ticks_linear(&lo, &hi, 6, ticks, MAX_TICKS);
    mw_scale ys = {lo, hi, plot_y + PLOT_H, plot_y, false};
    mw_scale xs = {-0.5, (double)c->n_x - 0.5, MARGIN_L, MARGIN_L + plot_w, false};

    mw_svg_begin(s, width, height, c->title);
    mw_chart_title(s, 16, c->title, c->subtitle);
    mw_chart_legend(s, MARGIN_L, legend_y, plot_w, items, n_items);
    char label[64];
    for (size_t i = 0; i < n_ticks; i++) {
        double y = mw_scale_px(&ys, ticks[i]);
        mw_svg_line(s, MARGIN_L, y, MARGIN_L + plot_w, y, GRID, 1, NULL);
        mw_chart_fmt(label, sizeof label, ticks[i], c->fmt, false);
        mw_svg_text(s, MARGIN_L - 8, y + 4, MW_SVG_TICK, MW_SVG_END, 0, NULL, label);
    }
    /* block labels: every block while they fit, else every 2nd, 5th, ... */
    size_t every = 1;
    while ((double)every * plot_w / (double)c->n_x < 22)
        every = every == 1 ? 2 : every == 2 ? 5 : every * 2;
    double bottom = plot_y + PLOT_H;
    for (size_t i = 0; i < c->n_x; i += every) {
        double x = mw_scale_px(&xs, (double)i);
        mw_svg_line(s, x, bottom, x, bottom + 4, AXIS, 1, NULL);
        snprintf(label, sizeof label, "%zu", i);
        mw_svg_text(s, x, bottom + 17, MW_SVG_TICK, MW_SVG_MIDDLE, 0, NULL, label);
    }
    if (isfinite(c->ref)) {
        double y = mw_scale_px(&ys, c->ref);
        mw_svg_line(s, MARGIN_L, y, MARGIN_L + plot_w, y, REF_COLOR, 1.4, "6 4");
    }
    for (size_t k = 0; k < c->n_series; k++)
        draw_series(s, c, k, &xs, &ys);
    mw_svg_line(s, MARGIN_L, plot_y, MARGIN_L, bottom, AXIS, 1, NULL);
    mw_svg_line(s, MARGIN_L, bottom, MARGIN_L + plot_w, bottom, AXIS, 1, NULL);
    mw_svg_text(s, 20, plot_y + PLOT_H / 2, MW_SVG_LABEL, MW_SVG_MIDDLE, -90, NULL, c->y_label);
    mw_svg_text(s, MARGIN_L + plot_w / 2, height - 12, MW_SVG_LABEL, MW_SVG_MIDDLE, 0, NULL,
                c->x_label);
    mw_svg_end(s);
}
