#version 450
#extension GL_GOOGLE_include_directive : require
#include "bindings.glsl"

// Depthwise conv over time, channels last: x (B, T, d) -> y (B, T, d),
// y[b, t, c] = bias[c] + sum_{j<k} w[c, j] x[b, t - pad + j, c], rows outside [0, len_b) zero.
layout(push_constant) uniform Params {
    uint B, T, d, k, pad, x, w, b, y, lens;
} pc;

layout(local_size_x = 256) in;

void main() {
    uint i = group_index() * 256 + gl_LocalInvocationID.x;
    if (i >= pc.B * pc.T * pc.d) return;
    uint c = i % pc.d, t = (i / pc.d) % pc.T, item = i / (pc.d * pc.T);
    int len = int(item_length(pc.lens, item, pc.T));
    float acc = pc.b == NONE ? 0.0 : W[pc.b + c];
    for (uint j = 0; j < pc.k; j++) {
        int src = int(t) - int(pc.pad) + int(j);
        if (src >= 0 && src < len) acc += W[pc.w + c * pc.k + j] * A[pc.x + (item * pc.T + uint(src)) * pc.d + c];
    }
    A[pc.y + i] = acc;
}
