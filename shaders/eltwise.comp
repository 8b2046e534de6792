#version 450
#extension GL_GOOGLE_include_directive : require
#include "bindings.glsl"

// Element-wise ops over count elements (rows of d, items of T rows where lens is given).
const uint OP_SWISH = 0u;     // y = x sigmoid(x)
const uint OP_GLU = 1u;       // x (rows, 2d) = [p | g] -> y (rows, d) = p sigmoid(g)
const uint OP_MEL_NORM = 2u;  // y (rows, d) = (x - W[wa]) / W[wb] per column, 0 on padded rows
const uint OP_ZERO_ROWS = 3u; // y = 0 on padded rows
layout(push_constant) uniform Params {
    uint op, count, d, T, x, y, wa, wb, lens;
} pc;

layout(local_size_x = 256) in;

bool padded_row(uint row) {
    return pc.lens != NONE && row % pc.T >= item_length(pc.lens, row / pc.T, pc.T);
}

void main() {
    uint i = group_index() * 256 + gl_LocalInvocationID.x;
    if (i >= pc.count) return;
    if (pc.op == OP_SWISH) {
        float v = A[pc.x + i];
        A[pc.y + i] = v * sigmoid(v);
    } else if (pc.op == OP_GLU) {
        uint row = i / pc.d, c = i % pc.d, src = pc.x + row * 2u * pc.d + c;
        A[pc.y + i] = A[src] * sigmoid(A[src + pc.d]);
    } else if (pc.op == OP_MEL_NORM) {
        uint c = i % pc.d;
        A[pc.y + i] = padded_row(i / pc.d) ? 0.0 : (A[pc.x + i] - W[pc.wa + c]) / W[pc.wb + c];
    } else if (pc.op == OP_ZERO_ROWS) {
        if (padded_row(i / pc.d)) A[pc.y + i] = 0.0;
    }
}
