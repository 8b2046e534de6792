#version 450
#extension GL_GOOGLE_include_directive : require
#include "bindings.glsl"

// Multi-head self-attention with relative positions (ops.h relattn_forward), one workgroup per
// (query i, head h, item b): q (B, Tq, D), k, v (B, Tk, D), p (Tq + Tk - 1, D) in A, D = H dh;
// pos_u, pos_v (H, dh) in W; score_j = ((q + u) . k_j + (q + v) . p[Tk - 1 + i - j]) * scale over
// the keys the mask lets query Tk - Tq + i see, softmax, out (B, Tq, D) = probs . v. The softmax
// runs online over blocks of 64 keys (a running maximum and sum rescale what came before), so
// no score matrix is stored. A query that sees no key gets zeros.
layout(push_constant) uniform Params {
    uint Tq, Tk, H, dh, q, k, v, p, u, pv, out_, lens, chunk;
    int left_chunks;
    uint causal;
    float scale;
} pc;

const uint BLOCK = 64;     // threads, and keys per block
const uint MAX_DH = 256;   // backend_vulkan.c's RELATTN_MAX_HEAD_DIM
const uint PER_THREAD = MAX_DH / BLOCK;
layout(local_size_x = 64) in;
shared float qu[MAX_DH];
shared float qv[MAX_DH];
shared float weight[BLOCK]; // exp(score - running max) of the block's keys
shared float part[BLOCK];

float reduce(float v, bool is_max) {
    uint t = gl_LocalInvocationID.x;
    part[t] = v;
    barrier();
    for (uint s = BLOCK / 2; s > 0; s >>= 1) {
        if (t < s) part[t] = is_max ? max(part[t], part[t + s]) : part[t] + part[t + s];
        barrier();
    }
    float r = part[0];
    barrier();
    return r;
}

void main() {
    uint i = gl_WorkGroupID.x, h = gl_WorkGroupID.y, b = gl_WorkGroupID.z, t = gl_LocalInvocationID.x;
    uint D = pc.H * pc.dh, q_abs = pc.Tk - pc.Tq + i, head = h * pc.dh;
    uint out_row = pc.out_ + (b * pc.Tq + i) * D + head;
    // the keys this query sees: one run [lo, hi), as ops_cpu.c's visible_range (in unsigned
    // arithmetic that cannot wrap: a left context of INT_MAX chunks is all of them)
    uint lo = 0, hi = min(item_length(pc.lens, b, pc.Tk), pc.Tk);
    if (pc.chunk > 0u) {
        uint cq = q_abs / pc.chunk;
        if (cq < (hi + pc.chunk - 1u) / pc.chunk) hi = min(hi, (cq + 1u) * pc.chunk);
        if (pc.left_chunks >= 0 && uint(pc.left_chunks) < cq) lo = (cq - uint(pc.left_chunks)) * pc.chunk;
    }
    if (pc.causal != 0u) hi = min(hi, q_abs + 1u);
    if (lo >= hi) {
        for (uint e = t; e < pc.dh; e += BLOCK) A[out_row + e] = 0.0;
        return;
    }
    uint q_row = pc.q + (b * pc.Tq + i) * D + head;
    for (uint e = t; e < pc.dh; e += BLOCK) {
        float qe = A[q_row + e];
        qu[e] = qe + W[pc.u + head + e];
        qv[e] = qe + W[pc.pv + head + e];
    }
    barrier();
    float running_max = -3.402823e38, running_sum = 0.0;
    float acc[PER_THREAD];
    for (uint r = 0; r < PER_THREAD; r++) acc[r] = 0.0;
    for (uint j0 = lo; j0 < hi; j0 += BLOCK) {
        uint j = j0 + t;
        float score = -3.402823e38;
        if (j < hi) {
            uint kr = pc.k + (b * pc.Tk + j) * D + head, pr = pc.p + (pc.Tk - 1u + i - j) * D + head;
            score = 0.0;
            for (uint e = 0; e < pc.dh; e++) score += qu[e] * A[kr + e] + qv[e] * A[pr + e];
            score *= pc.scale;
        }
        float new_max = max(running_max, reduce(score, true));
        float w = j < hi ? exp(score - new_max) : 0.0;
        weight[t] = w;
        float rescale = exp(running_max - new_max);
        running_sum = running_sum * rescale + reduce(w, false); // reduce's barriers publish weight[]
        running_max = new_max;
        uint n = min(BLOCK, hi - j0);
        for (uint r = 0; r < PER_THREAD; r++) {
            uint e = t + r * BLOCK;
            if (e >= pc.dh) break;
            float s = 0.0;
            uint vr = pc.v + (b * pc.Tk + j0) * D + head + e;
            for (uint jj = 0; jj < n; jj++) s += weight[jj] * A[vr + jj * D];
            acc[r] = acc[r] * rescale + s;
        }
        barrier(); // weight[] is rewritten by the next block
    }
    for (uint r = 0; r < PER_THREAD; r++) {
        uint e = t + r * BLOCK;
        if (e < pc.dh) A[out_row + e] = acc[r] / running_sum;
    }
}
