// Shared by every mslam compute shader: one descriptor set of two storage buffers, the model's
// weights (read only) and the pass's activations, addressed by float offsets in push constants
// (so one descriptor set serves every dispatch of a pass).
layout(std430, set = 0, binding = 0) readonly buffer Weights { float W[]; };
layout(std430, set = 0, binding = 1) coherent buffer Activations { float A[]; };

// An offset that names no tensor (no bias, no residual, no lengths).
const uint NONE = 0xFFFFFFFFu;

// Workgroups beyond maxComputeWorkGroupCount[0] (65535 at least) go on in y: the host dispatches
// (min(groups, 65535), ceil(groups / 65535)).
uint group_index() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

float sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }

// Valid rows of item b: lengths are stored as floats in the activations (exact below 2^24).
uint item_length(uint lens, uint b, uint T) { return lens == NONE ? T : uint(A[lens + b]); }
