#version 450
#extension GL_GOOGLE_include_directive : require
#include "bindings.glsl"

// y (n, out) = act(x (n, in) . w^T + b), w (out, in) as PyTorch; with a residual r (n, out):
// y = r + scale * that (y may alias r). x, r, y in A; w, b in W.
// Tiles of 64 x 64 outputs, 16 x 16 threads of 4 x 4 each, k in steps of 16.
layout(push_constant) uniform Params {
    uint n, in_dim, out_dim;
    uint x, w, b, y, r;
    uint act; // 0: none, 1: swish
    float scale;
} pc;

layout(local_size_x = 16, local_size_y = 16) in;

const uint BM = 64, BN = 64, BK = 16;
shared float xs[BK][BM + 1];
shared float ws[BK][BN + 1];

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, tid = ty * 16 + tx;
    uint row0 = gl_WorkGroupID.y * BM, col0 = gl_WorkGroupID.x * BN;
    float acc[4][4];
    for (uint i = 0; i < 4; i++)
        for (uint j = 0; j < 4; j++) acc[i][j] = 0.0;
    for (uint k0 = 0; k0 < pc.in_dim; k0 += BK) {
        for (uint l = 0; l < 4; l++) {
            uint idx = tid + l * 256, m = idx / BK, kk = idx % BK, gk = k0 + kk;
            uint gr = row0 + m, gc = col0 + m;
            xs[kk][m] = gr < pc.n && gk < pc.in_dim ? A[pc.x + gr * pc.in_dim + gk] : 0.0;
            ws[kk][m] = gc < pc.out_dim && gk < pc.in_dim ? W[pc.w + gc * pc.in_dim + gk] : 0.0;
        }
        barrier();
        for (uint kk = 0; kk < BK; kk++) {
            float a[4], bw[4];
            for (uint i = 0; i < 4; i++) a[i] = xs[kk][ty + 16 * i];
            for (uint j = 0; j < 4; j++) bw[j] = ws[kk][tx + 16 * j];
            for (uint i = 0; i < 4; i++)
                for (uint j = 0; j < 4; j++) acc[i][j] += a[i] * bw[j];
        }
        barrier();
    }
    for (uint i = 0; i < 4; i++) {
        uint gr = row0 + ty + 16 * i;
        if (gr >= pc.n) continue;
        for (uint j = 0; j < 4; j++) {
            uint gc = col0 + tx + 16 * j;
            if (gc >= pc.out_dim) continue;
            float v = acc[i][j] + (pc.b == NONE ? 0.0 : W[pc.b + gc]);
            if (pc.act == 1u) v = v * sigmoid(v);
            uint o = gr * pc.out_dim + gc;
            A[pc.y + o] = pc.r == NONE ? v : A[pc.r + o] + pc.scale * v;
        }
    }
}
