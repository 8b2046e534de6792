#version 450
#extension GL_GOOGLE_include_directive : require
#include "bindings.glsl"

// The subsampler's 3x3 stride-2 "valid" convolution and its ReLU: x (B, C_in, H, Wd) NCHW,
// w (C_out, C_in, 3, 3), b (C_out) -> y (B, C_out, Ho, Wo), or with time_major
// (B, Ho, C_out, Wo): the rows the subsampler's output projection reads.
layout(push_constant) uniform Params {
    uint B, c_in, H, Wd, c_out, x, w, b, y, time_major;
} pc;

layout(local_size_x = 256) in;

void main() {
    uint Ho = (pc.H - 3u) / 2u + 1u, Wo = (pc.Wd - 3u) / 2u + 1u;
    uint i = group_index() * 256 + gl_LocalInvocationID.x;
    if (i >= pc.B * pc.c_out * Ho * Wo) return;
    uint ow = i % Wo, oh = (i / Wo) % Ho, co = (i / (Wo * Ho)) % pc.c_out, item = i / (Wo * Ho * pc.c_out);
    float acc = W[pc.b + co];
    for (uint ci = 0; ci < pc.c_in; ci++) {
        uint xb = pc.x + ((item * pc.c_in + ci) * pc.H + 2u * oh) * pc.Wd + 2u * ow;
        uint wb = pc.w + (co * pc.c_in + ci) * 9u;
        for (uint kh = 0; kh < 3u; kh++)
            for (uint kw = 0; kw < 3u; kw++) acc += W[wb + kh * 3u + kw] * A[xb + kh * pc.Wd + kw];
    }
    uint o = pc.time_major != 0u ? ((item * Ho + oh) * pc.c_out + co) * Wo + ow : i;
    A[pc.y + o] = max(acc, 0.0);
}
