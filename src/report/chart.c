#include "report/chart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *mw_chart_color(size_t series) {
    /* blue, orange, bluish green, reddish purple, vermillion, sky blue, yellow */
    static const char *const OKABE_ITO[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                            "#D55E00", "#56B4E9", "#F0E442"};
    return OKABE_ITO[series % (sizeof OKABE_ITO / sizeof OKABE_ITO[0])];
}

void mw_chart_fmt(char *buf, size_t size, double v, enum mw_tick_fmt fmt, bool value_label) {
    char num[64];
    /* value labels keep one decimal where it matters; ticks are round anyway */
    int dec = value_label ? (fabs(v) < 10 ? 1 : 0) : (fabs(v - round(v)) > 1e-9 ? 1 : 0);
    switch (fmt) {
    case MW_TICK_PERCENT:
        mw_fmt_num(num, sizeof num, v, dec);
        snprintf(buf, size, "%s%%", num);
        break;
    case MW_TICK_CHANGE:
        mw_fmt_num(num, sizeof num, v, dec);
        snprintf(buf, size, "%s%s%%", v > 0 && strcmp(num, "0") && strcmp(num, "0.0") ? "+" : "",
                 num);
        break;
    case MW_TICK_RATIO:
        dec = value_label ? (v < 10 ? 2 : 1) : (v < 1 ? 2 : v < 10 ? 1 : 0);
        if (v >= 1e5) { /* a ruined model: 1e+05 rather than a row of digits */
            int e = (int)floor(log10(v));
            mw_fmt_num(num, sizeof num, v / pow(10, e), 1);
            snprintf(num + strlen(num), sizeof num - strlen(num), "e+%02d", e);
        } else {
            mw_fmt_num(num, sizeof num, v, dec);
        }
        /* drop zeros a tick does not need: x2, x1.5, x1e+06 */
        if (!value_label && strchr(num, '.')) {
            char *dot = strchr(num, '.'), *e = strchr(num, 'e');
            char *end = e ? e : num + strlen(num), *p = end;
            while (p > dot + 1 && p[-1] == '0')
                p--;
            if (p == dot + 1) p = dot;
            memmove(p, end, strlen(end) + 1);
        }
        snprintf(buf, size, "\xc3\x97%s", num); /* U+00D7 multiplication sign */
        break;
    }
}

double mw_scale_px(const mw_scale *s, double v) {
    double a = s->v0, b = s->v1;
    if (s->log) {
        a = log10(a);
        b = log10(b);
        v = log10(v);
    }
    if (b == a) return s->p0;
    return s->p0 + (v - a) / (b - a) * (s->p1 - s->p0);
}

size_t mw_ticks_linear(double *lo, double *hi, int want, double *ticks, size_t cap) {
    if (!(*hi > *lo)) {
        double pad = *lo == 0 ? 1 : fabs(*lo) * 0.1;
        *lo -= pad;
        *hi += pad;
    }
    double raw = (*hi - *lo) / (want > 1 ? want : 1);
    double mag = pow(10, floor(log10(raw)));
    static const double STEPS[] = {1, 2, 2.5, 5, 10};
    double step = 10 * mag;
    for (size_t i = 0; i < sizeof STEPS / sizeof STEPS[0]; i++)
        if (STEPS[i] * mag >= raw) {
            step = STEPS[i] * mag;
            break;
        }
    *lo = floor(*lo / step + 1e-9) * step;
    *hi = ceil(*hi / step - 1e-9) * step;
    size_t n = 0;
    for (double t = *lo; t <= *hi + step * 1e-6 && n < cap; t += step)
        ticks[n++] = fabs(t) < step * 1e-9 ? 0 : t; /* no -0 */
    return n;
}

/* Powers of ten in [lo, hi], every `step`-th decade. */
static size_t decade_ticks(double lo, double hi, int step, double *ticks, size_t cap) {
    size_t n = 0;
    int e0 = (int)ceil(log10(lo) - 1e-9), e1 = (int)floor(log10(hi) + 1e-9);
    int first = e0 - ((e0 % step) + step) % step; /* a multiple of step: 1, 100, 10^4 ... */
    for (int e = first; e <= e1 && n < cap; e += step)
        if (e >= e0) ticks[n++] = pow(10, e);
    return n;
}

size_t mw_ticks_log(double lo, double hi, int want, double *ticks, size_t cap) {
    /* mantissa sets from sparse to dense; the densest that stays within
     * `want` ticks wins, and decades are thinned when even one per decade is
     * too many */
    static const double SETS[][7] = {{1, 2, 5}, {1, 1.5, 2, 3, 5, 7}, {1, 1.2, 1.5, 2, 3, 5, 7}};
    static const size_t SET_N[] = {3, 6, 7};
    if (want < 2) want = 2;
    int decades = (int)(floor(log10(hi)) - ceil(log10(lo))) + 1;
    size_t best =
        decade_ticks(lo, hi, decades > want ? (decades + want - 1) / want : 1, ticks, cap);
    if (decades > want) return best;
    int e0 = (int)floor(log10(lo)), e1 = (int)ceil(log10(hi));
    for (size_t set = 0; set < 3; set++) {
        double tmp[64];
        size_t n = 0;
        for (int e = e0; e <= e1; e++)
            for (size_t m = 0; m < SET_N[set]; m++) {
                double t = SETS[set][m] * pow(10, e);
                if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9) && n < 64) tmp[n++] = t;
            }
        if ((int)n > want) break;
        if (n <= best) continue;
        best = n < cap ? n : cap;
        memcpy(ticks, tmp, best * sizeof *ticks);
    }
    return best;
}

/* Width a legend entry takes: swatch, gap, text, space to the next. */
static double legend_item_width(const mw_legend_item *it) {
    return 22 + mw_svg_text_width(MW_SVG_LEGEND, it->label) + 22;
}

double mw_chart_legend(mw_svg *s, double x, double y, double width, const mw_legend_item *items,
                       size_t n) {
    const double row_h = 20;
    double cx = x, cy = y;
    for (size_t i = 0; i < n; i++) {
        double w = legend_item_width(&items[i]);
        if (cx > x && cx + w - 22 > x + width) {
            cx = x;
            cy += row_h;
        }
        if (s) {
            double mid = cy + 7;
            switch (items[i].kind) {
            case MW_LEGEND_BOX:
                mw_svg_rect(s, cx, cy + 1, 14, 13, items[i].color, NULL);
                break;
            case MW_LEGEND_LINE:
                mw_svg_line(s, cx - 2, mid, cx + 16, mid, items[i].color, 3, NULL);
                mw_svg_circle(s, cx + 7, mid, 3.5, items[i].color, "#ffffff", NULL);
                break;
            case MW_LEGEND_DASH:
                mw_svg_line(s, cx - 2, mid, cx + 16, mid, items[i].color, 1.6, "5 3");
                break;
            }
            mw_svg_text(s, cx + 22, cy + 12, MW_SVG_LEGEND, MW_SVG_START, 0, NULL, items[i].label);
        }
        cx += w;
    }
    return n ? cy - y + row_h : 0;
}

double mw_chart_title(mw_svg *s, double x, const char *title, const char *subtitle) {
    mw_svg_text(s, x, 30, MW_SVG_TITLE, MW_SVG_START, 0, NULL, title);
    if (!subtitle) return 44;
    mw_svg_text(s, x, 51, MW_SVG_SUBTITLE, MW_SVG_START, 0, NULL, subtitle);
    return 64;
}
