#version 450
#extension GL_GOOGLE_include_directive : require
#include "bindings.glsl"

// LayerNorm over the last dim: x (n, d) -> y (n, d) (may alias), w, b (d) in W, eps 1e-5. With
// lens (B items of T rows), rows t >= lens[b] are written as zeros.
layout(push_constant) uniform Params {
    uint n, d, x, w, b, y, lens, T;
} pc;

layout(local_size_x = 128) in;
shared float part[128];

float reduce_sum(float v) {
    uint t = gl_LocalInvocationID.x;
    part[t] = v;
    barrier();
    for (uint s = 64; s > 0; s >>= 1) {
        if (t < s) part[t] += part[t + s];
        barrier();
    }
    float total = part[0];
    barrier();
    return total;
}

void main() {
    uint row = group_index();
    if (row >= pc.n) return; // uniform over the workgroup
    uint t = gl_LocalInvocationID.x, base = pc.x + row * pc.d;
    float s = 0.0;
    for (uint c = t; c < pc.d; c += 128) s += A[base + c];
    float mean = reduce_sum(s) / float(pc.d);
    s = 0.0;
    for (uint c = t; c < pc.d; c += 128) {
        float v = A[base + c] - mean;
        s += v * v;
    }
    float rstd = 1.0 / sqrt(reduce_sum(s) / float(pc.d) + 1e-5);
    bool padded = pc.lens != NONE && row % pc.T >= item_length(pc.lens, row / pc.T, pc.T);
    for (uint c = t; c < pc.d; c += 128)
        A[pc.y + row * pc.d + c] = padded ? 0.0 : (A[base + c] - mean) * rstd * W[pc.w + c] + W[pc.b + c];
}
