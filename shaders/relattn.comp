#version 450
#extension GL_GOOGLE_include_directive : require
#include "bindings.glsl"

// Multi-head self-attention with relative positions (ops.h relattn_forward), one workgroup per
// (query i, head h, item b): q (B, Tq, D), k, v (B, Tk, D), p (Tq + Tk - 1, D) in A, D = H dh;
// pos_u, pos_v (H, dh) in W; score_j = ((q + u) . k_j + (q + v) . p[Tk - 1 + i - j]) * scale over
// the keys the mask lets query Tk - Tq + i see, softmax, out (B, Tq, D) = probs . v. The scores go
// through s (B, H, Tq, Tk) in A. A query that sees no key gets zeros.
layout(push_constant) uniform Params {
    uint Tq, Tk, H, dh, q, k, v, p, u, pv, out_, s, lens, chunk;
    int left_chunks;
    uint causal;
    float scale;
} pc;

layout(local_size_x = 64) in;
shared float qu[256];
shared float qv[256];
shared float part[64];

float reduce(float v, bool is_max) {
    uint t = gl_LocalInvocationID.x;
    part[t] = v;
    barrier();
    for (uint s = 32; s > 0; s >>= 1) {
        if (t < s) part[t] = is_max ? max(part[t], part[t + s]) : part[t] + part[t + s];
        barrier();
    }
    float r = part[0];
    barrier();
    return r;
}

void main() {
    uint i = gl_WorkGroupID.x, h = gl_WorkGroupID.y, b = gl_WorkGroupID.z, t = gl_LocalInvocationID.x;
    uint D = pc.H * pc.dh, q_abs = pc.Tk - pc.Tq + i;
    uint out_row = pc.out_ + (b * pc.Tq + i) * D + h * pc.dh;
    // the keys this query sees: one run [lo, hi), as ops_cpu.c's visible_range
    int lo = 0, hi = int(min(item_length(pc.lens, b, pc.Tk), pc.Tk));
    if (pc.chunk > 0u) {
        int cq = int(q_abs / pc.chunk), chunk = int(pc.chunk);
        hi = min(hi, (cq + 1) * chunk);
        if (pc.left_chunks >= 0) lo = max(lo, (cq - pc.left_chunks) * chunk);
    }
    if (pc.causal != 0u) hi = min(hi, int(q_abs) + 1);
    if (lo >= hi) {
        for (uint e = t; e < pc.dh; e += 64) A[out_row + e] = 0.0;
        return;
    }
    uint q_row = pc.q + (b * pc.Tq + i) * D + h * pc.dh;
    for (uint e = t; e < pc.dh; e += 64) {
        float qe = A[q_row + e];
        qu[e] = qe + W[pc.u + h * pc.dh + e];
        qv[e] = qe + W[pc.pv + h * pc.dh + e];
    }
    barrier();
    uint row = pc.s + ((b * pc.H + h) * pc.Tq + i) * pc.Tk;
    float m = -3.402823e38;
    for (int j = lo + int(t); j < hi; j += 64) {
        uint kr = pc.k + (b * pc.Tk + uint(j)) * D + h * pc.dh;
        uint pr = pc.p + (pc.Tk - 1u + i - uint(j)) * D + h * pc.dh;
        float sc = 0.0;
        for (uint e = 0; e < pc.dh; e++) sc += qu[e] * A[kr + e] + qv[e] * A[pr + e];
        sc *= pc.scale;
        A[row + uint(j)] = sc;
        m = max(m, sc);
    }
    m = reduce(m, true);
    float sum = 0.0;
    for (int j = lo + int(t); j < hi; j += 64) {
        float e = exp(A[row + uint(j)] - m);
        A[row + uint(j)] = e;
        sum += e;
    }
    sum = reduce(sum, false);
    memoryBarrierBuffer();
    barrier();
    float inv = 1.0 / sum;
    for (uint e = t; e < pc.dh; e += 64) {
        float acc = 0.0;
        for (int j = lo; j < hi; j++) acc += A[row + uint(j)] * A[pc.v + (b * pc.Tk + uint(j)) * D + h * pc.dh + e];
        A[out_row + e] = acc * inv;
    }
}
