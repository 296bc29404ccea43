#include "report/svg.h"

#include <string.h>

/* DejaVu Sans is what Debian's renderers find; browsers fall back to their
 * sans-serif, which is no wider. */
static const char STYLE[] =
    "<style>\n"
    "text{font-family:'DejaVu Sans',Verdana,'Helvetica Neue',Arial,sans-serif;fill:#222}\n"
    ".title{font-size:18px;font-weight:bold}\n"
    ".subtitle{font-size:13px;fill:#555}\n"
    ".label{font-size:13px;fill:#333}\n"
    ".tick{font-size:12px;fill:#444}\n"
    ".small{font-size:11px;fill:#555}\n"
    ".legend{font-size:12.5px;fill:#222}\n"
    "</style>\n";

static void coord(mw_svg *s, double v) {
    mw_text_coord(&s->out, v, 2);
}

/* name="value" for a number */
static void attr_num(mw_svg *s, const char *name, double v) {
    mw_text_printf(&s->out, " %s=\"", name);
    coord(s, v);
    mw_text_put(&s->out, "\"");
}

static void attr_str(mw_svg *s, const char *name, const char *v) {
    mw_text_printf(&s->out, " %s=\"", name);
    mw_text_xml(&s->out, v);
    mw_text_put(&s->out, "\"");
}

static void close_with_tip(mw_svg *s, const char *element, const char *tip) {
    if (!tip) {
        mw_text_put(&s->out, "/>\n");
        return;
    }
    mw_text_put(&s->out, "><title>");
    mw_text_xml(&s->out, tip);
    mw_text_printf(&s->out, "</title></%s>\n", element);
}

void mw_svg_begin(mw_svg *s, double width, double height, const char *title) {
    *s = (mw_svg){.width = width, .height = height};
    mw_text_put(&s->out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<svg xmlns=\"http://www.w3.org/2000/svg\"");
    attr_num(s, "width", width);
    attr_num(s, "height", height);
    mw_text_put(&s->out, " viewBox=\"0 0 ");
    coord(s, width);
    mw_text_put(&s->out, " ");
    coord(s, height);
    mw_text_put(&s->out, "\" role=\"img\">\n<title>");
    mw_text_xml(&s->out, title);
    mw_text_put(&s->out, "</title>\n");
    mw_text_put(&s->out, STYLE);
    mw_svg_rect(s, 0, 0, width, height, "#ffffff", NULL);
}

void mw_svg_end(mw_svg *s) {
    mw_text_put(&s->out, "</svg>\n");
}

void mw_svg_free(mw_svg *s) {
    mw_text_free(&s->out);
}

void mw_svg_rect(mw_svg *s, double x, double y, double w, double h, const char *fill,
                 const char *tip) {
    if (w < 0) x += w, w = -w;
    if (h < 0) y += h, h = -h;
    mw_text_put(&s->out, "<rect");
    attr_num(s, "x", x);
    attr_num(s, "y", y);
    attr_num(s, "width", w);
    attr_num(s, "height", h);
    attr_str(s, "fill", fill);
    close_with_tip(s, "rect", tip);
}

void mw_svg_frame(mw_svg *s, double x, double y, double w, double h, const char *stroke,
                  double stroke_width) {
    mw_text_put(&s->out, "<rect");
    attr_num(s, "x", x);
    attr_num(s, "y", y);
    attr_num(s, "width", w);
    attr_num(s, "height", h);
    mw_text_put(&s->out, " fill=\"none\"");
    attr_str(s, "stroke", stroke);
    attr_num(s, "stroke-width", stroke_width);
    mw_text_put(&s->out, "/>\n");
}

static void stroke_attrs(mw_svg *s, const char *stroke, double stroke_width, const char *dash) {
    attr_str(s, "stroke", stroke);
    attr_num(s, "stroke-width", stroke_width);
    if (dash) attr_str(s, "stroke-dasharray", dash);
}

void mw_svg_line(mw_svg *s, double x1, double y1, double x2, double y2, const char *stroke,
                 double stroke_width, const char *dash) {
    mw_text_put(&s->out, "<line");
    attr_num(s, "x1", x1);
    attr_num(s, "y1", y1);
    attr_num(s, "x2", x2);
    attr_num(s, "y2", y2);
    stroke_attrs(s, stroke, stroke_width, dash);
    mw_text_put(&s->out, "/>\n");
}

void mw_svg_polyline(mw_svg *s, const double *xy, size_t n, const char *stroke, double stroke_width,
                     const char *dash) {
    mw_text_put(&s->out, "<polyline points=\"");
    for (size_t i = 0; i < n; i++) {
        if (i) mw_text_put(&s->out, " ");
        coord(s, xy[2 * i]);
        mw_text_put(&s->out, ",");
        coord(s, xy[2 * i + 1]);
    }
    mw_text_put(&s->out, "\" fill=\"none\" stroke-linejoin=\"round\"");
    stroke_attrs(s, stroke, stroke_width, dash);
    mw_text_put(&s->out, "/>\n");
}

void mw_svg_circle(mw_svg *s, double cx, double cy, double r, const char *fill, const char *stroke,
                   const char *tip) {
    mw_text_put(&s->out, "<circle");
    attr_num(s, "cx", cx);
    attr_num(s, "cy", cy);
    attr_num(s, "r", r);
    attr_str(s, "fill", fill);
    if (stroke) stroke_attrs(s, stroke, 1.5, NULL);
    close_with_tip(s, "circle", tip);
}

static void text_element(mw_svg *s, double x, double y, const char *cls, enum mw_svg_anchor anchor,
                         double rotate, const char *fill, bool italic, const char *text) {
    static const char *const ANCHORS[] = {"start", "middle", "end"};
    mw_text_put(&s->out, "<text");
    attr_num(s, "x", x);
    attr_num(s, "y", y);
    attr_str(s, "class", cls);
    if (anchor != MW_SVG_START) attr_str(s, "text-anchor", ANCHORS[anchor]);
    if (fill) attr_str(s, "fill", fill);
    if (italic) mw_text_put(&s->out, " font-style=\"italic\"");
    if (rotate != 0) {
        mw_text_put(&s->out, " transform=\"rotate(");
        coord(s, rotate);
        mw_text_put(&s->out, " ");
        coord(s, x);
        mw_text_put(&s->out, " ");
        coord(s, y);
        mw_text_put(&s->out, ")\"");
    }
    mw_text_put(&s->out, ">");
    mw_text_xml(&s->out, text);
    mw_text_put(&s->out, "</text>\n");
}

void mw_svg_text(mw_svg *s, double x, double y, const char *cls, enum mw_svg_anchor anchor,
                 double rotate, const char *fill, const char *text) {
    text_element(s, x, y, cls, anchor, rotate, fill, false, text);
}

void mw_svg_text_italic(mw_svg *s, double x, double y, const char *cls, enum mw_svg_anchor anchor,
                        double rotate, const char *text) {
    text_element(s, x, y, cls, anchor, rotate, NULL, true, text);
}

double mw_svg_font_size(const char *cls) {
    if (strcmp(cls, MW_SVG_TITLE) == 0) return 18;
    if (strcmp(cls, MW_SVG_SUBTITLE) == 0 || strcmp(cls, MW_SVG_LABEL) == 0) return 13;
    if (strcmp(cls, MW_SVG_SMALL) == 0) return 11;
    if (strcmp(cls, MW_SVG_LEGEND) == 0) return 12.5;
    return 12;
}

double mw_svg_text_width(const char *cls, const char *text) {
    /* count characters, not bytes: UTF-8 continuation bytes add no width */
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        chars += (*p & 0xc0) != 0x80;
    double em = strcmp(cls, MW_SVG_TITLE) == 0 ? 0.64 : 0.6; /* bold is wider */
    return (double)chars * em * mw_svg_font_size(cls);
}
