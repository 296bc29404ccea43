#include "kernels/ops.h"

#include <math.h>

void mw_rmsnorm_rows(const float *x, float *y, const float *w, int64_t rows, int64_t n, float eps,
                     int64_t stride) {
#pragma omp parallel for schedule(static) if (rows > 64)
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * stride;
        float *yr = y + r * stride;
        double sum = 0;
        for (int64_t i = 0; i < n; i++)
            sum += (double)xr[i] * xr[i];
        float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
        if (w)
            for (int64_t i = 0; i < n; i++)
                yr[i] = xr[i] * scale * w[i];
        else
            for (int64_t i = 0; i < n; i++)
                yr[i] = xr[i] * scale;
    }
}

void mw_rope_rows(float *x, int64_t rows, int64_t stride, int64_t n_heads, int64_t hd, int64_t pos0,
                  double base, double scale, bool neox) {
    int64_t half = hd / 2;
    float cs[1024], sn[1024]; /* head dims are at most 512 in the families we run */
    for (int64_t r = 0; r < rows; r++) {
        double pos = (double)(pos0 + r) / scale;
        for (int64_t i = 0; i < half && i < 512; i++) {
            double theta = pos * pow(base, -2.0 * (double)i / (double)hd);
            cs[i] = (float)cos(theta);
            sn[i] = (float)sin(theta);
        }
        for (int64_t h = 0; h < n_heads; h++) {
            float *v = x + r * stride + h * hd;
            for (int64_t i = 0; i < half; i++) {
                int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * cs[i] - x1 * sn[i];
                v[b] = x0 * sn[i] + x1 * cs[i];
            }
        }
    }
}

double mw_softmax(float *x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        float e = expf(x[i] - mx);
        x[i] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
    return log(sum) + mx;
}

void mw_swiglu(float *gate, const float *up, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void mw_geglu_tanh(float *gate, const float *up, int64_t n) {
    const float c = 0.7978845608028654f; /* sqrt(2 / pi) */
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = 0.5f * g * (1.0f + tanhf(c * (g + 0.044715f * g * g * g))) * up[i];
    }
}
