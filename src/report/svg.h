/* A small SVG writer: the elements the report's charts draw, into a text
 * buffer, coordinates with two decimals so that the same data always gives
 * the same bytes. Text is escaped; colours and classes come from the caller's
 * constants. */
#ifndef MW_REPORT_SVG_H
#define MW_REPORT_SVG_H

#include "report/text.h"

typedef struct mw_svg {
    mw_text out;
    double width, height;
} mw_svg;

/* Text classes defined by the style sheet mw_svg_begin writes. */
#define MW_SVG_TITLE    "title"    /* chart title */
#define MW_SVG_SUBTITLE "subtitle" /* line under the title */
#define MW_SVG_LABEL    "label"    /* axis titles */
#define MW_SVG_TICK     "tick"     /* tick and category labels */
#define MW_SVG_SMALL    "small"    /* notes, values on bars */
#define MW_SVG_LEGEND   "legend"   /* legend entries */

enum mw_svg_anchor { MW_SVG_START, MW_SVG_MIDDLE, MW_SVG_END };

/* Header, style sheet, accessible title and a white background. */
void mw_svg_begin(mw_svg *s, double width, double height, const char *title);
/* Closes the document; the text is in s->out (s->out.oom on failure). */
void mw_svg_end(mw_svg *s);
void mw_svg_free(mw_svg *s);

/* A filled rectangle; tip (may be NULL) becomes its tooltip. */
void mw_svg_rect(mw_svg *s, double x, double y, double w, double h, const char *fill,
                 const char *tip);
/* A rectangle outline. */
void mw_svg_frame(mw_svg *s, double x, double y, double w, double h, const char *stroke,
                  double stroke_width);
/* dash (may be NULL) is an SVG dash array such as "6 3". */
void mw_svg_line(mw_svg *s, double x1, double y1, double x2, double y2, const char *stroke,
                 double stroke_width, const char *dash);
/* An open path through n points (xy holds x0 y0 x1 y1 ...). */
void mw_svg_polyline(mw_svg *s, const double *xy, size_t n, const char *stroke, double stroke_width,
                     const char *dash);
void mw_svg_circle(mw_svg *s, double cx, double cy, double r, const char *fill, const char *stroke,
                   const char *tip);
/* Text at (x, y) (the baseline), rotated by `rotate` degrees about that point;
 * fill NULL keeps the class's colour. */
void mw_svg_text(mw_svg *s, double x, double y, const char *cls, enum mw_svg_anchor anchor,
                 double rotate, const char *fill, const char *text);
/* Same in italics (held-out languages). */
void mw_svg_text_italic(mw_svg *s, double x, double y, const char *cls, enum mw_svg_anchor anchor,
                        double rotate, const char *text);

/* Approximate width in pixels of text in a class, for layout (DejaVu Sans:
 * about 0.6 em per character). */
double mw_svg_text_width(const char *cls, const char *text);
double mw_svg_font_size(const char *cls);

#endif
