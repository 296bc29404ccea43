/* What the report's charts share: colours, scales, tick values and labels,
 * the legend, and the two chart kinds (grouped bars, steps per block). */
#ifndef MW_REPORT_CHART_H
#define MW_REPORT_CHART_H

#include "report/svg.h"

/* Okabe and Ito's colour-blind-safe palette, starting with the colours that
 * stay apart best; the dense baseline is grey. */
const char *mw_chart_color(size_t series);
#define MW_CHART_DENSE "#8a8a8a"

/* How tick and value labels read: 60%, +12%, ×2.5. */
enum mw_tick_fmt { MW_TICK_PERCENT, MW_TICK_CHANGE, MW_TICK_RATIO };
void mw_chart_fmt(char *buf, size_t size, double v, enum mw_tick_fmt fmt, bool value_label);

/* Maps values onto pixels, linearly or on a log axis. */
typedef struct mw_scale {
    double v0, v1; /* value range */
    double p0, p1; /* pixels of v0 and v1 */
    bool log;
} mw_scale;
double mw_scale_px(const mw_scale *s, double v);

/* Round tick values covering [*lo, *hi], about `want` of them; widens the
 * range to the outer ticks. Returns the count (at most cap). */
size_t mw_ticks_linear(double *lo, double *hi, int want, double *ticks, size_t cap);
/* Ticks of a log axis (1, 2, 5, 10 ... or finer for short ranges) inside
 * [lo, hi]; no widening. */
size_t mw_ticks_log(double lo, double hi, int want, double *ticks, size_t cap);

enum mw_legend_kind { MW_LEGEND_BOX, MW_LEGEND_LINE, MW_LEGEND_DASH };
typedef struct mw_legend_item {
    const char *label;
    const char *color;
    enum mw_legend_kind kind;
} mw_legend_item;
/* Lays the items out in rows from (x, y) within width; draws them when s is
 * not NULL. Returns the height used. */
double mw_chart_legend(mw_svg *s, double x, double y, double width, const mw_legend_item *items,
                       size_t n);

/* Title and subtitle from the top left; returns the y below them. */
double mw_chart_title(mw_svg *s, double x, const char *title, const char *subtitle);

/* ---- grouped bars ------------------------------------------------------ */

/* Groups along x (languages), one bar per series (run) in each. Arrays of
 * values are [n_groups][n_series]; NAN leaves a bar out. */
typedef struct mw_bar_chart {
    const char *title, *subtitle, *x_label, *y_label;
    size_t n_groups, n_series;
    const char *const *groups;      /* [n_groups] labels */
    const char *const *group_notes; /* [n_groups] second label line, entries may be NULL */
    const bool *shaded;             /* [n_groups] held out: shaded, label in italics */
    const char *shade_label;        /* legend entry for the shading */
    size_t n_summary;               /* the last groups are means, set apart */
    const char *const *series;      /* [n_series] names */
    const char *const *colors;      /* [n_series] */
    const double *value;
    const double *lo, *hi; /* whiskers, or NULL */
    const double *ref;     /* [n_groups] a reference level (chance), or NULL */
    const char *ref_label;
    const char *const *tips; /* tooltips, or NULL */
    bool log;                /* log axis; values must be > 0 */
    double base;             /* where bars start */
    double y_min, y_max;     /* fixed axis range, or NAN for the data's */
    enum mw_tick_fmt fmt;
} mw_bar_chart;

void mw_bar_chart_svg(const mw_bar_chart *c, mw_svg *s);

/* ---- steps per block --------------------------------------------------- */

/* One value per x position (block 0 .. n_x-1) and series, drawn as steps
 * with a marker per block; values are [n_series][n_x], NAN for none. */
typedef struct mw_step_chart {
    const char *title, *subtitle, *x_label, *y_label;
    size_t n_series, n_x;
    const char *const *series;
    const char *const *colors;
    const double *value;
    const char *const *tips; /* [n_series][n_x], or NULL */
    double ref;              /* a dashed level (the mean target), or NAN */
    const char *ref_label;
    enum mw_tick_fmt fmt;
} mw_step_chart;

void mw_step_chart_svg(const mw_step_chart *c, mw_svg *s);

#endif
