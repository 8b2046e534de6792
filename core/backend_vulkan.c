/* Vulkan compute backend (see backend_vulkan.h). */
#include "backend_vulkan.h"

#include "common.h"
#include "encoder.h"
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MSLAM_HAVE_VULKAN

int mslam_vk_available(void) { return 0; }

int mslam_vk_open(mslam_vk **out, const mslam_model *model, enum mslam_device device) {
    (void)model;
    *out = NULL;
    if (device == MSLAM_DEVICE_VULKAN)
        return mslam_error("this build of mslam has no Vulkan backend (meson option vulkan)");
    return 0;
}
void mslam_vk_close(mslam_vk *vk) { (void)vk; }
int mslam_vk_fits(mslam_vk *vk, const struct mslam_model_config *cfg, int speech, int B, int length, char *why,
                  size_t why_size) {
    (void)vk, (void)cfg, (void)speech, (void)B, (void)length;
    if (why && why_size) snprintf(why, why_size, "needs the Vulkan backend, which this build has not");
    return 0;
}
const char *mslam_vk_device_name(const mslam_vk *vk) {
    (void)vk;
    return "";
}
int mslam_vk_encode_speech(mslam_vk *vk, const struct mslam_model_config *cfg, const mslam_params *P,
                           const float *mel, const int *mel_lens, int B, int T_mel, const attn_mask *mask,
                           float *out) {
    (void)vk, (void)cfg, (void)P, (void)mel, (void)mel_lens, (void)B, (void)T_mel, (void)mask, (void)out;
    return mslam_error("this build of mslam has no Vulkan backend");
}
int mslam_vk_encode_text(mslam_vk *vk, const struct mslam_model_config *cfg, const mslam_params *P,
                         const int *ids, const int *lens, int B, int L, float *out) {
    (void)vk, (void)cfg, (void)P, (void)ids, (void)lens, (void)B, (void)L, (void)out;
    return mslam_error("this build of mslam has no Vulkan backend");
}
int mslam_vk_lost(const mslam_vk *vk) {
    (void)vk;
    return 0;
}
int mslam_vk_cpu_instead(const mslam_vk *vk) {
    (void)vk;
    return 0;
}
int mslam_vk_auto(const mslam_vk *vk) {
    (void)vk;
    return 0;
}
int mslam_vk_pass_ran(mslam_vk *vk, int ok) {
    (void)vk, (void)ok;
    return 0;
}
unsigned mslam_vk_buffers_created(void) { return 0; }
void mslam_vk_pretend(const struct mslam_vk_pretence *pretence) { (void)pretence; }
void mslam_vk_pretend_device_lost(mslam_vk *vk) { (void)vk; }

#else

#include <pthread.h>
#include <stdatomic.h>
#include <vulkan/vulkan.h>

/* SPIR-V of shaders/, as C initialiser lists written by glslc -mfmt=c */
static const uint32_t spv_linear[] =
#include "linear.comp.h"
    ;
static const uint32_t spv_layernorm[] =
#include "layernorm.comp.h"
    ;
static const uint32_t spv_eltwise[] =
#include "eltwise.comp.h"
    ;
static const uint32_t spv_dwconv[] =
#include "dwconv.comp.h"
    ;
static const uint32_t spv_conv2d[] =
#include "conv2d.comp.h"
    ;
static const uint32_t spv_relattn[] =
#include "relattn.comp.h"
    ;

enum kernel { K_LINEAR, K_LAYERNORM, K_ELTWISE, K_DWCONV, K_CONV2D, K_RELATTN, K_COUNT };

static const struct {
    const uint32_t *code;
    size_t size;
    const char *name;
} kernels[K_COUNT] = {
    {spv_linear, sizeof spv_linear, "linear"},       {spv_layernorm, sizeof spv_layernorm, "layernorm"},
    {spv_eltwise, sizeof spv_eltwise, "eltwise"},    {spv_dwconv, sizeof spv_dwconv, "dwconv"},
    {spv_conv2d, sizeof spv_conv2d, "conv2d"},       {spv_relattn, sizeof spv_relattn, "relattn"},
};

/* The shaders' push constants (each shaders/NAME.comp has the same fields in the same order, 4 bytes each) */
#define NONE 0xFFFFFFFFu
enum { OP_SWISH, OP_GLU, OP_MEL_NORM, OP_ZERO_ROWS };
typedef struct {
    uint32_t n, in_dim, out_dim, x, w, b, y, r, act;
    float scale;
} linear_pc;
typedef struct {
    uint32_t n, d, x, w, b, y, lens, T;
} layernorm_pc;
typedef struct {
    uint32_t op, count, d, T, x, y, wa, wb, lens;
} eltwise_pc;
typedef struct {
    uint32_t B, T, d, k, pad, x, w, b, y, lens;
} dwconv_pc;
typedef struct {
    uint32_t B, c_in, H, Wd, c_out, x, w, b, y, time_major;
} conv2d_pc;
typedef struct {
    uint32_t Tq, Tk, H, dh, q, k, v, p, u, pv, out, lens, chunk;
    int32_t left_chunks;
    uint32_t causal;
    float scale;
} relattn_pc;
#define PUSH_CONSTANT_BYTES 128
/* relattn.comp keeps q + u and q + v of one head in shared arrays of this many floats */
#define RELATTN_MAX_HEAD_DIM 256

typedef struct {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map;              /* host-visible buffers only */
    uint32_t heap;          /* the memory heap of mem */
    VkDeviceSize allocated; /* mem's bytes (its requirements: size and alignment) */
} vk_buffer;

struct mslam_vk {
    VkInstance instance;
    VkPhysicalDevice phys;
    VkPhysicalDeviceMemoryProperties mem_props;
    VkDevice dev;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkDescriptorPool desc_pool;
    VkDescriptorSet set;
    VkShaderModule modules[K_COUNT];
    VkPipeline pipes[K_COUNT];
    vk_buffer weights, acts, staging;
    const float *block; /* the model's parameters that weights holds, block_floats of them */
    size_t block_floats;
    uint32_t max_groups_x, max_groups_y, max_groups_z;
    VkDeviceSize max_range; /* maxStorageBufferRange */
    /* vkGetPhysicalDeviceMemoryProperties2 where the device reports its heaps' budgets
     * (VK_EXT_memory_budget, Vulkan 1.1), else NULL */
    PFN_vkGetPhysicalDeviceMemoryProperties2 memory_properties2;
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    pthread_mutex_t lock;
    int bound;           /* kernel bound last in the command buffer being recorded (-1: none) */
    atomic_int lost;     /* VK_ERROR_DEVICE_LOST came back: the device takes no more work */
    int cpu_after_loss;  /* opened under MSLAM_DEVICE_AUTO: once lost, the passes run on the CPU */
    atomic_int failing;  /* under auto, a pass failed and none has run on the device since */
    int pretend_lost;    /* mslam_vk_pretend_device_lost */
};

/* mslam_vk_pretend's (tests only), and while it pretends a heap_free_bytes, the bytes that the
 * buffers allocated since took from each heap, less those freed (a driver's usage would move so) */
static struct mslam_vk_pretence pretence;
static int64_t pretended_taken[VK_MAX_MEMORY_HEAPS];
/* mslam_vk_buffers_created's count (tests only) */
static atomic_uint buffers_created;

unsigned mslam_vk_buffers_created(void) { return atomic_load(&buffers_created); }

void mslam_vk_pretend(const struct mslam_vk_pretence *p) {
    pretence = p ? *p : (struct mslam_vk_pretence){0};
    memset(pretended_taken, 0, sizeof pretended_taken);
}

void mslam_vk_pretend_device_lost(mslam_vk *vk) { vk->pretend_lost = 1; }

int mslam_vk_lost(const mslam_vk *vk) { return vk && atomic_load(&vk->lost); }

int mslam_vk_cpu_instead(const mslam_vk *vk) { return mslam_vk_lost(vk) && vk->cpu_after_loss; }

int mslam_vk_auto(const mslam_vk *vk) { return vk && vk->cpu_after_loss; }

int mslam_vk_pass_ran(mslam_vk *vk, int ok) {
    if (!vk) return 0;
    return ok ? (atomic_store(&vk->failing, 0), 0) : !atomic_exchange(&vk->failing, 1);
}

int mslam_vk_available(void) { return 1; }

static const char *result_name(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER (no Vulkan driver)";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    default: return "a Vulkan error";
    }
}

/* 0, or -1 with the error "Vulkan: <what> failed (<result>)" */
static int check(VkResult r, const char *what) {
    return r == VK_SUCCESS ? 0 : mslam_error("Vulkan: %s failed (%s, %d)", what, result_name(r), (int)r);
}

/* check() of a call that writes a handle (or a mapping): after a failure the spec leaves its
 * contents undefined, and the cleanup that follows destroys what is not null */
static int check_made(VkResult r, void *handle, size_t size, const char *what) {
    if (r != VK_SUCCESS) memset(handle, 0, size);
    return check(r, what);
}
#define CHECK_MADE(call, handle, what) check_made((call), (handle), sizeof *(handle), (what))

/* ---- what the shaders need of a device ---- */

/* The compute limits the shaders need (all of them: the most along each axis): local_size, its
 * invocations, and the bytes of one shader's shared arrays. Read from their SPIR-V, so that they
 * follow the shaders: linear.comp's 16 x 16 threads each load and compute a fixed part of a
 * 64 x 64 tile, and conv2d, dwconv and eltwise run 256 threads, where Vulkan guarantees 128
 * invocations and a width of 128 only. */
typedef struct {
    uint32_t size[3], invocations, shared_bytes;
} shader_needs;

/* SPIR-V's numbers for what spirv_needs reads (the SPIR-V specification, section 3) */
enum {
    SPV_OP_EXECUTION_MODE = 16,
    SPV_OP_TYPE_INT = 21,
    SPV_OP_TYPE_FLOAT = 22,
    SPV_OP_TYPE_VECTOR = 23,
    SPV_OP_TYPE_ARRAY = 28,
    SPV_OP_TYPE_STRUCT = 30,
    SPV_OP_TYPE_POINTER = 32,
    SPV_OP_CONSTANT = 43,
    SPV_OP_VARIABLE = 59,
    SPV_MODE_LOCAL_SIZE = 17,
    SPV_STORAGE_WORKGROUP = 4,
};

/* Adds what kernel k needs to *needs: its LocalSize execution mode and the bytes of its Workgroup
 * (shared) variables, elements summed without padding (arrays of arrays of 32-bit floats here). */
static int spirv_needs(enum kernel k, shader_needs *needs) {
    const uint32_t *code = kernels[k].code;
    size_t words = kernels[k].size / sizeof(uint32_t);
    /* the header: magic, version, generator, id bound, 0 */
    uint32_t bound = words > 5 ? code[3] : 0;
    /* by result id: a type's size in bytes, a constant's value (array lengths) */
    uint64_t *value = mslam_calloc(bound ? bound : 1, sizeof *value, "the shader's ids");
    if (!value) return -1;
    int has_local_size = 0;
    uint64_t shared = 0;
    for (size_t at = 5; at < words;) {
        const uint32_t *w = code + at;
        uint32_t op = w[0] & 0xFFFFu, n = w[0] >> 16; /* n words, w[0] included */
        if (n == 0 || n > words - at) break;
        switch (op) {
        case SPV_OP_EXECUTION_MODE: /* entry point, mode, x, y, z */
            if (n >= 6 && w[2] == SPV_MODE_LOCAL_SIZE) {
                has_local_size = 1;
                for (int i = 0; i < 3; i++)
                    if (w[3 + i] > needs->size[i]) needs->size[i] = w[3 + i];
                if (w[3] * w[4] * w[5] > needs->invocations) needs->invocations = w[3] * w[4] * w[5];
            }
            break;
        case SPV_OP_TYPE_INT: /* result, width in bits */
        case SPV_OP_TYPE_FLOAT:
            if (n >= 3 && w[1] < bound) value[w[1]] = w[2] / 8;
            break;
        case SPV_OP_TYPE_VECTOR: /* result, component type, count */
            if (n >= 4 && w[1] < bound && w[2] < bound) value[w[1]] = value[w[2]] * w[3];
            break;
        case SPV_OP_TYPE_ARRAY: /* result, element type, the constant holding the length */
            if (n >= 4 && w[1] < bound && w[2] < bound && w[3] < bound) value[w[1]] = value[w[2]] * value[w[3]];
            break;
        case SPV_OP_TYPE_STRUCT: /* result, member types */
            if (w[1] < bound)
                for (uint32_t m = 2; m < n; m++) value[w[1]] += w[m] < bound ? value[w[m]] : 0;
            break;
        case SPV_OP_TYPE_POINTER: /* result, storage class, pointee */
            if (n >= 4 && w[1] < bound && w[3] < bound) value[w[1]] = value[w[3]];
            break;
        case SPV_OP_CONSTANT: /* type, result, value (its low word) */
            if (n >= 4 && w[2] < bound) value[w[2]] = w[3];
            break;
        case SPV_OP_VARIABLE: /* pointer type, result, storage class */
            if (n >= 4 && w[3] == SPV_STORAGE_WORKGROUP && w[1] < bound) shared += value[w[1]];
            break;
        default: break;
        }
        at += n;
    }
    free(value);
    /* a workgroup sized by specialization constants (LocalSizeId) would need reading those */
    if (!has_local_size) return mslam_error("Vulkan: the %s shader declares no local_size", kernels[k].name);
    if (shared > needs->shared_bytes) needs->shared_bytes = (uint32_t)shared;
    return 0;
}

static int shaders_need(shader_needs *needs) {
    memset(needs, 0, sizeof *needs);
    for (int k = 0; k < K_COUNT; k++)
        if (spirv_needs((enum kernel)k, needs)) return -1;
    return 0;
}

/* Writes why a device of these limits cannot run the shaders into why (an empty string: it can). */
static void limits_short_of(const VkPhysicalDeviceLimits *limits, const shader_needs *needs, char *why, size_t size) {
    *why = '\0';
    if (limits->maxComputeWorkGroupInvocations < needs->invocations)
        snprintf(why, size, "maxComputeWorkGroupInvocations is %u, the shaders need %u",
                 limits->maxComputeWorkGroupInvocations, needs->invocations);
    for (int i = 0; i < 3 && !*why; i++)
        if (limits->maxComputeWorkGroupSize[i] < needs->size[i])
            snprintf(why, size, "maxComputeWorkGroupSize[%d] is %u, the shaders need %u", i,
                     limits->maxComputeWorkGroupSize[i], needs->size[i]);
    if (!*why && limits->maxComputeSharedMemorySize < needs->shared_bytes)
        snprintf(why, size, "maxComputeSharedMemorySize is %u bytes, the shaders need %u",
                 limits->maxComputeSharedMemorySize, needs->shared_bytes);
}

/* The limits of mslam_vk_pretend in place of those of device `index` (of vkEnumeratePhysicalDevices) */
static void pretend_limits(VkPhysicalDeviceLimits *limits, uint32_t index) {
    if (pretence.limited_devices && (index >= 32 || !(pretence.limited_devices >> index & 1))) return;
    if (pretence.max_invocations) limits->maxComputeWorkGroupInvocations = pretence.max_invocations;
    for (int i = 0; i < 3; i++)
        if (pretence.max_size[i]) limits->maxComputeWorkGroupSize[i] = pretence.max_size[i];
    if (pretence.max_shared_bytes) limits->maxComputeSharedMemorySize = pretence.max_shared_bytes;
}

/* ---- device ---- */

static int device_rank(VkPhysicalDeviceType type) {
    switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    default: return 1; /* a CPU implementation or another kind */
    }
}

static int compute_queue_family(VkPhysicalDevice phys, uint32_t *family) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &n, NULL);
    VkQueueFamilyProperties props[16];
    if (n > 16) n = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(phys, &n, props);
    for (uint32_t i = 0; i < n; i++)
        if (props[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *family = i;
            return 0;
        }
    return -1;
}

/* Picks vk->phys: the first of MSLAM_VULKAN_DEVICE's whose limits the shaders fit (a part of a
 * name may match several, as two GPUs of one model), else the best ranked of those that fit
 * (AUTO: a GPU only). *none = 1 when AUTO finds no GPU. When every device that MSLAM_VULKAN_DEVICE
 * names, or every one left, is below the shaders' limits, the error names each and why. */
static int pick_device(mslam_vk *vk, enum mslam_device device, int *none) {
    shader_needs needs;
    if (shaders_need(&needs)) return -1;
    uint32_t n = 0;
    if (check(vkEnumeratePhysicalDevices(vk->instance, &n, NULL), "vkEnumeratePhysicalDevices")) return -1;
    VkPhysicalDevice *all = mslam_calloc(n ? 2 * n : 1, sizeof *all, "Vulkan devices");
    if (!all) return -1;
    if (check(vkEnumeratePhysicalDevices(vk->instance, &n, all), "vkEnumeratePhysicalDevices")) {
        free(all);
        return -1;
    }
    if (pretence.each_device_twice) {
        for (uint32_t i = n; i-- > 0;) all[2 * i] = all[2 * i + 1] = all[i];
        n *= 2;
    }
    const char *want = getenv("MSLAM_VULKAN_DEVICE");
    /* digits are an index when a device has it, else part of a name ("4090") */
    char *digits_end = NULL;
    long want_index = want && *want ? strtol(want, &digits_end, 10) : -1;
    int by_index = digits_end && *digits_end == '\0' && want_index >= 0 && want_index < (long)n;
    int best = -1, best_rank = 0;
    /* refused: each device that would have been picked but cannot run the shaders, and why */
    char names[512] = "", refused[1024] = "";
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties props;
        vkGetPhysicalDeviceProperties(all[i], &props);
        pretend_limits(&props.limits, i);
        uint32_t family;
        if (compute_queue_family(all[i], &family)) continue;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%u: %s", used ? ", " : "", i, props.deviceName);
        int rank = device_rank(props.deviceType), candidate;
        if (want && *want) {
            int match = by_index ? want_index == (long)i : mslam_ascii_find_nocase(props.deviceName, want) != NULL;
            candidate = match && best < 0;
        } else {
            candidate = rank > best_rank && (device == MSLAM_DEVICE_VULKAN || rank >= 2);
        }
        if (!candidate) continue;
        char short_of[256];
        limits_short_of(&props.limits, &needs, short_of, sizeof short_of);
        size_t refused_used = strlen(refused);
        if (!*short_of)
            best = (int)i, best_rank = rank;
        else
            snprintf(refused + refused_used, sizeof refused - refused_used, "%sVulkan device %u, %s: %s",
                     refused_used ? "; " : "", i, props.deviceName, short_of);
    }
    if (best >= 0) vk->phys = all[best];
    free(all);
    if (best >= 0) {
        if (*refused) mslam_log(MSLAM_LOG_INFO, "%s: not used", refused);
        return 0;
    }
    if (*refused) return mslam_error("%s", refused);
    if (want && *want)
        return mslam_error("MSLAM_VULKAN_DEVICE=%s names no Vulkan device with compute (there are: %s)", want,
                           n ? names : "none");
    if (device == MSLAM_DEVICE_VULKAN)
        return mslam_error("no Vulkan device with compute was found");
    mslam_log(MSLAM_LOG_INFO, "no GPU among the Vulkan devices (%s): the encoder runs on the CPU",
              n ? names : "none");
    *none = 1;
    return 0;
}

/* Whether phys has the device extension `name` */
static int has_extension(VkPhysicalDevice phys, const char *name) {
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(phys, NULL, &n, NULL) != VK_SUCCESS || n == 0) return 0;
    VkExtensionProperties *all = calloc(n, sizeof *all);
    int found = 0;
    /* VK_INCOMPLETE: more than n now; those read are enough to look at */
    if (all && vkEnumerateDeviceExtensionProperties(phys, NULL, &n, all) >= VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = !strcmp(all[i].extensionName, name);
    free(all);
    return found;
}

static int memory_type(const mslam_vk *vk, uint32_t bits, VkMemoryPropertyFlags want, uint32_t *type) {
    for (uint32_t i = 0; i < vk->mem_props.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (vk->mem_props.memoryTypes[i].propertyFlags & want) == want) {
            *type = i;
            return 0;
        }
    return -1;
}

static void buffer_free(mslam_vk *vk, vk_buffer *b) {
    if (b->mem && pretence.heap_free_bytes) pretended_taken[b->heap] -= (int64_t)b->allocated;
    if (b->map) vkUnmapMemory(vk->dev, b->mem);
    if (b->buf) vkDestroyBuffer(vk->dev, b->buf, NULL);
    if (b->mem) vkFreeMemory(vk->dev, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

/* The bytes free in each memory heap (its budget less its usage, VK_EXT_memory_budget), in one
 * query: free_bytes[h] and reported[h] (whether heap h reports it), VK_MAX_MEMORY_HEAPS of each.
 * Returns how many heaps report it: 0 where the device reports no budget (lavapipe). */
static int heaps_free(const mslam_vk *vk, VkDeviceSize *free_bytes, int *reported) {
    memset(free_bytes, 0, VK_MAX_MEMORY_HEAPS * sizeof *free_bytes);
    memset(reported, 0, VK_MAX_MEMORY_HEAPS * sizeof *reported);
    uint32_t heaps = vk->mem_props.memoryHeapCount < VK_MAX_MEMORY_HEAPS ? vk->mem_props.memoryHeapCount
                                                                         : VK_MAX_MEMORY_HEAPS;
    int n = 0;
    if (pretence.heap_free_bytes) {
        for (uint32_t h = 0; h < heaps; h++, n++) {
            int64_t taken = pretended_taken[h];
            free_bytes[h] = taken < 0 || (uint64_t)taken < pretence.heap_free_bytes
                                ? pretence.heap_free_bytes - (uint64_t)taken
                                : 0;
            reported[h] = 1;
        }
        return n;
    }
    if (!vk->memory_properties2) return 0;
    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
                                               .pNext = &budget};
    vk->memory_properties2(vk->phys, &props);
    for (uint32_t h = 0; h < heaps && h < props.memoryProperties.memoryHeapCount; h++) {
        if (budget.heapBudget[h] == 0) continue;
        VkDeviceSize total = budget.heapBudget[h], used = budget.heapUsage[h];
        free_bytes[h] = total > used ? total - used : 0;
        reported[h] = 1;
        n++;
    }
    return n;
}

/* Creates a buffer of size bytes in *buf (no memory bound yet) and picks its memory type: device-
 * local, or host-visible and coherent (staging). *req: the memory it needs. Errors are recorded
 * naming what where it is given (buffer_memory only asks). */
static int buffer_create(const mslam_vk *vk, VkDeviceSize size, int staging, const char *what, VkBuffer *buf,
                         VkMemoryRequirements *req, uint32_t *type) {
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                 (staging ? 0 : VK_BUFFER_USAGE_STORAGE_BUFFER_BIT),
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    *buf = VK_NULL_HANDLE;
    atomic_fetch_add(&buffers_created, 1);
    VkResult r = vkCreateBuffer(vk->dev, &info, NULL, buf);
    if (r != VK_SUCCESS) {
        *buf = VK_NULL_HANDLE; /* undefined after a failure */
        if (what) check(r, what);
        return -1;
    }
    vkGetBufferMemoryRequirements(vk->dev, *buf, req);
    /* staging: cached when there is such memory (the host reads the results back) */
    VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if (staging ? memory_type(vk, req->memoryTypeBits, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, type) &&
                      memory_type(vk, req->memoryTypeBits, host, type)
                : memory_type(vk, req->memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, type) &&
                      memory_type(vk, req->memoryTypeBits, 0, type)) {
        vkDestroyBuffer(vk->dev, *buf, NULL);
        *buf = VK_NULL_HANDLE;
        if (what) mslam_error("Vulkan: no memory type for %s", what);
        return -1;
    }
    return 0;
}

/* The memory that buffer_make would allocate for a buffer of size bytes: *bytes of heap *heap.
 * Allocates none (the buffer made to ask is destroyed). 0, or -1 where it cannot be made. */
static int buffer_memory(const mslam_vk *vk, VkDeviceSize size, int staging, uint32_t *heap, VkDeviceSize *bytes) {
    VkBuffer buf;
    VkMemoryRequirements req;
    uint32_t type;
    if (buffer_create(vk, size, staging, NULL, &buf, &req, &type)) return -1;
    vkDestroyBuffer(vk->dev, buf, NULL);
    *heap = vk->mem_props.memoryTypes[type].heapIndex;
    *bytes = req.size;
    return 0;
}

/* A buffer of size bytes, and room more where the memory free allows (a buffer that grows):
 * device-local, or host-visible, coherent and mapped (staging). Refused before it is allocated
 * where the device reports less memory free than it needs (memory_holds foresees it for a pass). */
static int buffer_make(mslam_vk *vk, vk_buffer *b, VkDeviceSize size, VkDeviceSize room, int staging,
                       const char *what) {
    memset(b, 0, sizeof *b);
    VkMemoryRequirements req;
    uint32_t type;
    if (buffer_create(vk, size + room, staging, what, &b->buf, &req, &type)) return -1;
    uint32_t heap = vk->mem_props.memoryTypes[type].heapIndex;
    VkDeviceSize free_bytes[VK_MAX_MEMORY_HEAPS];
    int reported[VK_MAX_MEMORY_HEAPS];
    if (heaps_free(vk, free_bytes, reported) && reported[heap] && req.size > free_bytes[heap]) {
        buffer_free(vk, b);
        if (room) return buffer_make(vk, b, size, 0, staging, what);
        return mslam_error("Vulkan: %s needs %llu bytes (%.1f MB) of memory heap %u of device %s, which has %llu "
                           "(%.1f MB) free: its budget less what is in use",
                           what, (unsigned long long)req.size, req.size / 1e6, heap, vk->name,
                           (unsigned long long)free_bytes[heap], free_bytes[heap] / 1e6);
    }
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size, .memoryTypeIndex = type};
    if (CHECK_MADE(vkAllocateMemory(vk->dev, &alloc, NULL, &b->mem), &b->mem, what) ||
        check(vkBindBufferMemory(vk->dev, b->buf, b->mem, 0), what) ||
        (staging && CHECK_MADE(vkMapMemory(vk->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map), &b->map, what))) {
        buffer_free(vk, b);
        return -1;
    }
    b->size = size + room;
    b->heap = heap;
    b->allocated = req.size;
    if (pretence.heap_free_bytes) pretended_taken[heap] += (int64_t)req.size;
    return 0;
}

static void bind_buffers(mslam_vk *vk) {
    VkDescriptorBufferInfo infos[2] = {{vk->weights.buf, 0, VK_WHOLE_SIZE}, {vk->acts.buf, 0, VK_WHOLE_SIZE}};
    VkWriteDescriptorSet writes[2];
    for (int i = 0; i < 2; i++)
        writes[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                           .dstSet = vk->set,
                                           .dstBinding = (uint32_t)i,
                                           .descriptorCount = 1,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                           .pBufferInfo = &infos[i]};
    vkUpdateDescriptorSets(vk->dev, 2, writes, 0, NULL);
}

/* A buffer that reserve makes anew, larger: size bytes, and room more where the memory free allows */
typedef struct {
    vk_buffer *b;
    VkDeviceSize size, room;
    int staging;
    const char *what;
} growth;

/* The buffers that reserve grows for act_floats of activations and staging_bytes, in its order
 * (the activations, then staging): writes them into grow, returns how many (0 to 2). */
static int growths(mslam_vk *vk, size_t act_floats, size_t staging_bytes, growth grow[2]) {
    int n = 0;
    VkDeviceSize act_bytes = (VkDeviceSize)act_floats * sizeof(float);
    if (act_bytes > vk->acts.size) {
        /* room to grow, within what one descriptor may span */
        VkDeviceSize room = act_bytes + act_bytes / 4 < vk->max_range ? act_bytes / 4 : vk->max_range - act_bytes;
        grow[n++] = (growth){&vk->acts, act_bytes, room, 0, "the activation buffer"};
    }
    if (staging_bytes > vk->staging.size)
        grow[n++] = (growth){&vk->staging, staging_bytes, staging_bytes / 4, 1, "the staging buffer"};
    return n;
}

/* Grows the activation (floats) and staging (bytes) buffers to at least the sizes asked. */
static int reserve(mslam_vk *vk, size_t act_floats, size_t staging_bytes) {
    VkDeviceSize act_bytes = (VkDeviceSize)act_floats * sizeof(float);
    if (act_bytes > vk->max_range || act_floats >= NONE)
        return mslam_error("Vulkan: the pass needs %.1f MB of activations, more than one buffer of %s holds "
                           "(%.1f MB); encode shorter audio or on the CPU",
                           act_bytes / 1e6, vk->name, vk->max_range / 1e6);
    growth grow[2];
    int n = growths(vk, act_floats, staging_bytes, grow);
    for (int i = 0; i < n; i++) {
        /* the old buffer goes first: its memory is free again for the new one */
        buffer_free(vk, grow[i].b);
        if (buffer_make(vk, grow[i].b, grow[i].size, grow[i].room, grow[i].staging, grow[i].what)) return -1;
        if (grow[i].b == &vk->acts) bind_buffers(vk);
    }
    return 0;
}

/* Whether the memory free holds what reserve(vk, act_floats, staging_bytes) would allocate, where
 * the device reports it (VK_EXT_memory_budget; else 1), as buffer_make checks each buffer: one
 * that grows is freed first, so its memory counts as free for it and those after it, and takes its
 * room where that fits, else its size alone. Allocates nothing. Where it does not hold, writes why
 * (the buffer, the bytes it needs and those free). vk locked. */
static int memory_holds(mslam_vk *vk, size_t act_floats, size_t staging_bytes, char *why, size_t why_size) {
    VkDeviceSize free_bytes[VK_MAX_MEMORY_HEAPS];
    int reported[VK_MAX_MEMORY_HEAPS];
    growth grow[2];
    int n = growths(vk, act_floats, staging_bytes, grow);
    /* nothing grows, or no budget reported: nothing to check, and no buffer made to ask */
    if (!n || !heaps_free(vk, free_bytes, reported)) return 1;
    for (int i = 0; i < n; i++) {
        const growth *g = &grow[i];
        if (g->b->mem) free_bytes[g->b->heap] += g->b->allocated;
        uint32_t heap;
        VkDeviceSize with_room, alone;
        /* a buffer that cannot be made: the pass meets the same failure, and its error says why */
        if (buffer_memory(vk, g->size + g->room, g->staging, &heap, &with_room)) return 1;
        if (!reported[heap]) continue;
        if (with_room <= free_bytes[heap]) {
            free_bytes[heap] -= with_room;
            continue;
        }
        /* the size alone, asked only when the room does not fit */
        alone = with_room;
        if (g->room && buffer_memory(vk, g->size, g->staging, &heap, &alone)) return 1;
        if (alone <= free_bytes[heap]) {
            free_bytes[heap] -= alone;
        } else {
            if (why && why_size)
                snprintf(why, why_size,
                         "needs more memory than the Vulkan device has free; %s needs %llu bytes (%.1f MB) of memory "
                         "heap %u, which has %llu (%.1f MB) free, counting the buffer it replaces",
                         g->what, (unsigned long long)alone, alone / 1e6, heap,
                         (unsigned long long)free_bytes[heap], free_bytes[heap] / 1e6);
            return 0;
        }
    }
    return 1;
}

static int begin(mslam_vk *vk) {
    VkCommandBufferBeginInfo info = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                     .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    if (check(vkResetCommandBuffer(vk->cmd, 0), "vkResetCommandBuffer") ||
        check(vkBeginCommandBuffer(vk->cmd, &info), "vkBeginCommandBuffer"))
        return -1;
    vkCmdBindDescriptorSets(vk->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, vk->layout, 0, 1, &vk->set, 0, NULL);
    vk->bound = -1;
    return 0;
}

/* The message of a pass on a lost device (the caller's way on: a fresh device or the CPU) */
#define LOST_WHAT_TO_DO "reload the model, or load it with device cpu"

/* Records the error of a pass that a lost device failed or refused (message: the whole of it).
 * Under auto (cpu_after_loss) it is not logged: the encoder runs the pass on the CPU instead
 * (mslam_vk_cpu_instead), and the loss has its one warning. */
static int lost_error(const mslam_vk *vk, const char *message) {
    int outer = mslam_errors_unlogged(1);
    mslam_errors_unlogged(outer || vk->cpu_after_loss);
    mslam_error("%s", message);
    mslam_errors_unlogged(outer);
    return -1;
}

/* Submits the command buffer and waits for it. VK_ERROR_DEVICE_LOST marks vk lost: the device
 * takes no more work (its command buffer may still be pending, which a later pass would reset). */
static int submit_and_wait(mslam_vk *vk) {
    if (check(vkEndCommandBuffer(vk->cmd), "vkEndCommandBuffer")) return -1;
    VkSubmitInfo info = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &vk->cmd};
    const char *what = "vkResetFences";
    VkResult r = vkResetFences(vk->dev, 1, &vk->fence);
    if (r == VK_SUCCESS) what = "vkQueueSubmit", r = vkQueueSubmit(vk->queue, 1, &info, vk->fence);
    if (r == VK_SUCCESS) {
        what = "vkWaitForFences", r = vkWaitForFences(vk->dev, 1, &vk->fence, VK_TRUE, UINT64_MAX);
        if (vk->pretend_lost) vk->pretend_lost = 0, r = r == VK_SUCCESS ? VK_ERROR_DEVICE_LOST : r;
    }
    if (r == VK_ERROR_DEVICE_LOST) {
        char message[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE + 192];
        snprintf(message, sizeof message, "Vulkan device %s was lost (%s: VK_ERROR_DEVICE_LOST; a GPU reset or a "
                 "driver fault)", vk->name, what);
        /* set under vk's lock: one pass finds the loss, and auto's warning comes once */
        atomic_store(&vk->lost, 1);
        if (vk->cpu_after_loss)
            mslam_log(MSLAM_LOG_WARN, "%s: the encoder runs on the CPU from now on (device auto); reload the model "
                      "for a fresh device", message);
        size_t used = strlen(message);
        snprintf(message + used, sizeof message - used, ": it takes no more work; " LOST_WHAT_TO_DO);
        return lost_error(vk, message);
    }
    return check(r, what);
}

/* Every write of the stages in src is seen by the reads and writes of the stages in dst. */
static void barrier(mslam_vk *vk, VkPipelineStageFlags src, VkAccessFlags src_access, VkPipelineStageFlags dst,
                    VkAccessFlags dst_access) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src_access, .dstAccessMask = dst_access};
    vkCmdPipelineBarrier(vk->cmd, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

static void copy(mslam_vk *vk, VkBuffer from, VkDeviceSize from_off, VkBuffer to, VkDeviceSize to_off,
                 VkDeviceSize bytes) {
    VkBufferCopy region = {from_off, to_off, bytes};
    vkCmdCopyBuffer(vk->cmd, from, to, 1, &region);
}

/* Records kernel k over groups (x, y, z) with its push constants, then a barrier, so that the
 * next dispatch sees what this one wrote. */
static void dispatch(mslam_vk *vk, enum kernel k, const void *pc, size_t pc_size, uint32_t gx, uint32_t gy,
                     uint32_t gz) {
    if (vk->bound != (int)k) {
        vkCmdBindPipeline(vk->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, vk->pipes[k]);
        vk->bound = (int)k;
    }
    vkCmdPushConstants(vk->cmd, vk->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, (uint32_t)pc_size, pc);
    vkCmdDispatch(vk->cmd, gx, gy, gz);
    barrier(vk, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
}

/* groups workgroups in a line, as shaders/bindings.glsl's group_index reads them */
static void dispatch_line(mslam_vk *vk, enum kernel k, const void *pc, size_t pc_size, size_t groups) {
    uint32_t gx = groups < vk->max_groups_x ? (uint32_t)groups : vk->max_groups_x;
    dispatch(vk, k, pc, pc_size, gx, (uint32_t)((groups + gx - 1) / gx), 1);
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

void mslam_vk_close(mslam_vk *vk) {
    if (!vk) return;
    if (vk->dev) {
        vkDeviceWaitIdle(vk->dev);
        buffer_free(vk, &vk->weights);
        buffer_free(vk, &vk->acts);
        buffer_free(vk, &vk->staging);
        for (int k = 0; k < K_COUNT; k++) {
            if (vk->pipes[k]) vkDestroyPipeline(vk->dev, vk->pipes[k], NULL);
            if (vk->modules[k]) vkDestroyShaderModule(vk->dev, vk->modules[k], NULL);
        }
        if (vk->layout) vkDestroyPipelineLayout(vk->dev, vk->layout, NULL);
        if (vk->desc_pool) vkDestroyDescriptorPool(vk->dev, vk->desc_pool, NULL);
        if (vk->set_layout) vkDestroyDescriptorSetLayout(vk->dev, vk->set_layout, NULL);
        if (vk->fence) vkDestroyFence(vk->dev, vk->fence, NULL);
        if (vk->pool) vkDestroyCommandPool(vk->dev, vk->pool, NULL);
        vkDestroyDevice(vk->dev, NULL);
    }
    if (vk->instance) vkDestroyInstance(vk->instance, NULL);
    pthread_mutex_destroy(&vk->lock);
    free(vk);
}

const char *mslam_vk_device_name(const mslam_vk *vk) { return vk ? vk->name : ""; }

static int make_pipelines(mslam_vk *vk) {
    VkDescriptorSetLayoutBinding bindings[2];
    for (uint32_t i = 0; i < 2; i++)
        bindings[i] = (VkDescriptorSetLayoutBinding){.binding = i,
                                                     .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                     .descriptorCount = 1,
                                                     .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo set_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO, .bindingCount = 2, .pBindings = bindings};
    if (CHECK_MADE(vkCreateDescriptorSetLayout(vk->dev, &set_info, NULL, &vk->set_layout), &vk->set_layout,
                   "vkCreateDescriptorSetLayout"))
        return -1;
    VkPushConstantRange range = {VK_SHADER_STAGE_COMPUTE_BIT, 0, PUSH_CONSTANT_BYTES};
    VkPipelineLayoutCreateInfo layout_info = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                              .setLayoutCount = 1,
                                              .pSetLayouts = &vk->set_layout,
                                              .pushConstantRangeCount = 1,
                                              .pPushConstantRanges = &range};
    if (CHECK_MADE(vkCreatePipelineLayout(vk->dev, &layout_info, NULL, &vk->layout), &vk->layout,
                   "vkCreatePipelineLayout")) return -1;
    VkDescriptorPoolSize pool_size = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2};
    VkDescriptorPoolCreateInfo pool_info = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                            .maxSets = 1,
                                            .poolSizeCount = 1,
                                            .pPoolSizes = &pool_size};
    if (CHECK_MADE(vkCreateDescriptorPool(vk->dev, &pool_info, NULL, &vk->desc_pool), &vk->desc_pool,
                   "vkCreateDescriptorPool")) return -1;
    VkDescriptorSetAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                         .descriptorPool = vk->desc_pool,
                                         .descriptorSetCount = 1,
                                         .pSetLayouts = &vk->set_layout};
    if (check(vkAllocateDescriptorSets(vk->dev, &alloc, &vk->set), "vkAllocateDescriptorSets")) return -1;
    for (int k = 0; k < K_COUNT; k++) {
        VkShaderModuleCreateInfo module_info = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                                .codeSize = kernels[k].size,
                                                .pCode = kernels[k].code};
        if (CHECK_MADE(vkCreateShaderModule(vk->dev, &module_info, NULL, &vk->modules[k]), &vk->modules[k],
                       kernels[k].name)) return -1;
        VkComputePipelineCreateInfo pipe_info = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                      .module = vk->modules[k],
                      .pName = "main"},
            .layout = vk->layout,
        };
        if (check(vkCreateComputePipelines(vk->dev, VK_NULL_HANDLE, 1, &pipe_info, NULL, &vk->pipes[k]),
                  kernels[k].name))
            return -1;
    }
    return 0;
}

static int upload_weights(mslam_vk *vk, const mslam_model *model) {
    VkDeviceSize bytes = (VkDeviceSize)model->table.total * sizeof(float);
    if (model->table.total >= NONE || bytes > vk->max_range)
        /* vk_open adds the device's name */
        return mslam_error("Vulkan: the model's %.1f MB of weights are more than one storage buffer of the device "
                           "holds (%.1f MB)", bytes / 1e6, vk->max_range / 1e6);
    /* the staging copy without reserve's room to grow: it is freed once the weights are up, and a
     * quarter more of host memory could fail a load that fits */
    if (buffer_make(vk, &vk->weights, bytes, 0, 0, "the weight buffer") || reserve(vk, 64, 0) ||
        buffer_make(vk, &vk->staging, bytes, 0, 1, "the staging buffer of the weights"))
        return -1;
    memcpy(vk->staging.map, model->block, (size_t)bytes);
    vk->block = model->block;
    vk->block_floats = model->table.total;
    if (begin(vk)) return -1;
    copy(vk, vk->staging.buf, 0, vk->weights.buf, 0, bytes);
    if (submit_and_wait(vk)) return -1;
    bind_buffers(vk);
    buffer_free(vk, &vk->staging); /* as large as the weights: the passes make their own */
    return 0;
}

static int vk_open(mslam_vk **out, const mslam_model *model, enum mslam_device device);

int mslam_vk_open(mslam_vk **out, const mslam_model *model, enum mslam_device device) {
    /* one message for the attempt: auto falls back to the CPU with one warning saying why (inside),
     * a failure is logged once here, whatever step recorded it */
    int outer = mslam_errors_unlogged(1);
    int rc = vk_open(out, model, device);
    mslam_errors_unlogged(outer);
    if (rc) mslam_log(MSLAM_LOG_ERROR, "%s", mslam_last_error());
    return rc;
}

static int vk_open(mslam_vk **out, const mslam_model *model, enum mslam_device device) {
    *out = NULL;
    if (device == MSLAM_DEVICE_CPU) return 0;
    int dh = model->cfg.d_model / model->cfg.n_heads;
    if (dh > RELATTN_MAX_HEAD_DIM) {
        if (device == MSLAM_DEVICE_VULKAN)
            return mslam_error("heads of %d dimensions are more than the attention shader holds (%d)",
                               dh, RELATTN_MAX_HEAD_DIM);
        mslam_log(MSLAM_LOG_INFO, "heads of %d dimensions are more than the Vulkan attention shader holds (%d): "
                                  "the encoder runs on the CPU", dh, RELATTN_MAX_HEAD_DIM);
        return 0;
    }
    mslam_vk *vk = mslam_calloc(1, sizeof *vk, "the Vulkan context");
    if (!vk) return -1;
    pthread_mutex_init(&vk->lock, NULL);
    /* Vulkan 1.1 where the loader has it, for the heaps' budgets (vkGetPhysicalDeviceMemoryProperties2) */
    uint32_t loader_version = VK_API_VERSION_1_0;
    PFN_vkEnumerateInstanceVersion enumerate_version =
        (PFN_vkEnumerateInstanceVersion)vkGetInstanceProcAddr(VK_NULL_HANDLE, "vkEnumerateInstanceVersion");
    if (!enumerate_version || enumerate_version(&loader_version) != VK_SUCCESS) loader_version = VK_API_VERSION_1_0;
    uint32_t api = loader_version >= VK_API_VERSION_1_1 ? VK_API_VERSION_1_1 : VK_API_VERSION_1_0;
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "mslam",
                             .pEngineName = "mslam",
                             .apiVersion = api};
    VkInstanceCreateInfo inst_info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VkResult r = vkCreateInstance(&inst_info, NULL, &vk->instance);
    if (r != VK_SUCCESS) {
        vk->instance = VK_NULL_HANDLE;
        mslam_vk_close(vk);
        if (device == MSLAM_DEVICE_VULKAN) return check(r, "vkCreateInstance");
        mslam_log(MSLAM_LOG_INFO, "no Vulkan (%s): the encoder runs on the CPU", result_name(r));
        return 0;
    }
    int none = 0;
    if (pick_device(vk, device, &none) || none) {
        mslam_vk_close(vk);
        if (none || device == MSLAM_DEVICE_VULKAN) return none ? 0 : -1;
        mslam_log(MSLAM_LOG_WARN, "%s: the encoder runs on the CPU", mslam_last_error());
        return 0;
    }
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(vk->phys, &props);
    snprintf(vk->name, sizeof vk->name, "%s", props.deviceName);
    vk->max_groups_x = props.limits.maxComputeWorkGroupCount[0];
    vk->max_groups_y = props.limits.maxComputeWorkGroupCount[1];
    vk->max_groups_z = props.limits.maxComputeWorkGroupCount[2];
    vk->max_range = props.limits.maxStorageBufferRange;
    vkGetPhysicalDeviceMemoryProperties(vk->phys, &vk->mem_props);
    /* the budgets are a physical device's query: the extension need not be enabled on the device */
    if (api >= VK_API_VERSION_1_1 && props.apiVersion >= VK_API_VERSION_1_1 &&
        has_extension(vk->phys, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME))
        vk->memory_properties2 = (PFN_vkGetPhysicalDeviceMemoryProperties2)vkGetInstanceProcAddr(
            vk->instance, "vkGetPhysicalDeviceMemoryProperties2");
    compute_queue_family(vk->phys, &vk->queue_family);
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                          .queueFamilyIndex = vk->queue_family,
                                          .queueCount = 1,
                                          .pQueuePriorities = &priority};
    VkDeviceCreateInfo dev_info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1, .pQueueCreateInfos = &queue_info};
    VkCommandPoolCreateInfo pool_info = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                         .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                         .queueFamilyIndex = vk->queue_family};
    VkFenceCreateInfo fence_info = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    int rc = CHECK_MADE(vkCreateDevice(vk->phys, &dev_info, NULL, &vk->dev), &vk->dev, "vkCreateDevice");
    if (!rc) {
        vkGetDeviceQueue(vk->dev, vk->queue_family, 0, &vk->queue);
        rc = CHECK_MADE(vkCreateCommandPool(vk->dev, &pool_info, NULL, &vk->pool), &vk->pool, "vkCreateCommandPool");
    }
    if (!rc) {
        VkCommandBufferAllocateInfo cmd_info = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                                .commandPool = vk->pool,
                                                .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                                .commandBufferCount = 1};
        rc = check(vkAllocateCommandBuffers(vk->dev, &cmd_info, &vk->cmd), "vkAllocateCommandBuffers") ||
             CHECK_MADE(vkCreateFence(vk->dev, &fence_info, NULL, &vk->fence), &vk->fence, "vkCreateFence") ||
             make_pipelines(vk) || upload_weights(vk, model);
    }
    if (rc) {
        char why[1024], device_named[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE + 32] = "";
        snprintf(why, sizeof why, "%s", mslam_last_error());
        /* once: the messages of memory and of a lost device name it */
        if (!strstr(why, vk->name)) snprintf(device_named, sizeof device_named, " (Vulkan device %s)", vk->name);
        if (device == MSLAM_DEVICE_AUTO) {
            mslam_log(MSLAM_LOG_WARN, "%s%s: the encoder runs on the CPU", why, device_named);
        } else { /* why has the caller's error context already */
            const char *context = mslam_error_context_set(NULL);
            mslam_error("%s%s", why, device_named);
            mslam_error_context_set(context);
        }
        mslam_vk_close(vk);
        return device == MSLAM_DEVICE_AUTO ? 0 : -1;
    }
    mslam_log(MSLAM_LOG_INFO, "the encoder runs on Vulkan device %s", vk->name);
    /* from here on (not in the upload: vk_open's fallback covers a loss there) */
    vk->cpu_after_loss = device == MSLAM_DEVICE_AUTO;
    *out = vk;
    return 0;
}

/* ---- passes ---- */

/* Float offsets of a pass's buffers in the activation buffer, handed out in order. */
typedef struct {
    size_t used;
} plan;

static uint32_t take(plan *p, size_t floats) {
    size_t at = p->used;
    p->used += (floats + 63) & ~(size_t)63; /* 256-byte steps */
    return (uint32_t)at;
}

/* Buffers of the Conformer layers, shared by all of them (inference). */
typedef struct {
    uint32_t lens;              /* (B) item lengths as floats */
    uint32_t pe;                /* (2T - 1, d) sinusoids of distances -(T-1) .. T-1 */
    uint32_t xa, xb;            /* (n, d) layer input and output, in turn */
    uint32_t ln, x1, x2, x3, x4, tmp, q, k, v, att, glu; /* (n, d) */
    uint32_t h;                 /* (n, f) */
    uint32_t pw1;               /* (n, 2d) */
    uint32_t p;                 /* (2T - 1, d) */
} layer_bufs;

/* xa first, xb right after it (plan_speech lays the subsampler's buffers from xb on) */
static void plan_layers(plan *p, layer_bufs *lb, const struct mslam_model_config *cfg, int B, int T) {
    size_t n = (size_t)B * T, d = (size_t)cfg->d_model, R = 2 * (size_t)T - 1;
    lb->xa = take(p, n * d);
    lb->xb = take(p, n * d);
    uint32_t *nd_bufs[] = {&lb->ln, &lb->x1, &lb->x2, &lb->x3, &lb->x4, &lb->tmp, &lb->q, &lb->k, &lb->v, &lb->att, &lb->glu};
    for (size_t i = 0; i < sizeof nd_bufs / sizeof nd_bufs[0]; i++) *nd_bufs[i] = take(p, n * d);
    lb->h = take(p, n * (size_t)cfg->d_ff);
    lb->pw1 = take(p, 2 * n * d);
    lb->p = take(p, R * d);
}

/* The float offset of a parameter in the weight buffer (params_on_device checked it is there) */
static uint32_t woff(const mslam_vk *vk, const float *w) { return (uint32_t)(w - vk->block); }

/* Whether P's tensors are in the block uploaded (a pass with another model's params would read
 * the wrong weights). */
static int params_on_device(const mslam_vk *vk, const mslam_params *P) {
    const float *some[] = {P->mel_mean, P->text_embed, P->text_ln_b}; /* tensors every model has */
    for (size_t i = 0; i < sizeof some / sizeof some[0]; i++)
        if (some[i] < vk->block || some[i] >= vk->block + vk->block_floats)
        return mslam_error("Vulkan: the pass's parameters are not the model's that %s holds", vk->name);
    return 0;
}

static void linear(mslam_vk *vk, uint32_t y, uint32_t x, const float *w, const float *b,
                   size_t n, int in, int out, uint32_t residual, float scale, int swish) {
    linear_pc pc = {(uint32_t)n, (uint32_t)in, (uint32_t)out, x, woff(vk, w), b ? woff(vk, b) : NONE, y, residual,
                    (uint32_t)swish, scale};
    dispatch(vk, K_LINEAR, &pc, sizeof pc, (uint32_t)ceil_div((size_t)out, 64), (uint32_t)ceil_div(n, 64), 1);
}

static void layernorm(mslam_vk *vk, uint32_t y, uint32_t x, const float *w, const float *b,
                      size_t n, int d, uint32_t lens, int T) {
    layernorm_pc pc = {(uint32_t)n, (uint32_t)d, x, woff(vk, w), woff(vk, b), y, lens, (uint32_t)T};
    dispatch_line(vk, K_LAYERNORM, &pc, sizeof pc, n);
}

static void eltwise(mslam_vk *vk, eltwise_pc pc) { dispatch_line(vk, K_ELTWISE, &pc, sizeof pc, ceil_div(pc.count, 256)); }

/* A Conformer layer, as conformer_layer_forward without state or dropout: x -> y (n, d). */
static void record_layer(mslam_vk *vk, const struct mslam_model_config *cfg, const conformer_layer_params *L,
                         const layer_bufs *lb, int B, int T, const attn_mask *mask, uint32_t x, uint32_t y) {
    int d = cfg->d_model, f = cfg->d_ff, H = cfg->n_heads, dh = d / H, k = cfg->conv_kernel;
    size_t n = (size_t)B * T;

    layernorm(vk, lb->ln, x, L->ffn1_ln_w, L->ffn1_ln_b, n, d, NONE, T);
    linear(vk, lb->h, lb->ln, L->ffn1_w1, L->ffn1_b1, n, d, f, NONE, 1.0f, 1);
    linear(vk, lb->x1, lb->h, L->ffn1_w2, L->ffn1_b2, n, f, d, x, 0.5f, 0);

    layernorm(vk, lb->ln, lb->x1, L->attn_ln_w, L->attn_ln_b, n, d, NONE, T);
    linear(vk, lb->q, lb->ln, L->attn_wq, L->attn_bq, n, d, d, NONE, 1.0f, 0);
    linear(vk, lb->k, lb->ln, L->attn_wk, L->attn_bk, n, d, d, NONE, 1.0f, 0);
    linear(vk, lb->v, lb->ln, L->attn_wv, L->attn_bv, n, d, d, NONE, 1.0f, 0);
    linear(vk, lb->p, lb->pe, L->attn_wpos, NULL, 2 * (size_t)T - 1, d, d, NONE, 1.0f, 0);
    relattn_pc ra = {(uint32_t)T, (uint32_t)T, (uint32_t)H, (uint32_t)dh, lb->q, lb->k, lb->v, lb->p,
                     woff(vk, L->attn_pos_u), woff(vk, L->attn_pos_v), lb->att, lb->lens,
                     (uint32_t)(mask ? mask->chunk : 0), mask ? mask->left_chunks : -1,
                     (uint32_t)(mask ? mask->causal : 0), 1.0f / sqrtf((float)dh)};
    dispatch(vk, K_RELATTN, &ra, sizeof ra, (uint32_t)T, (uint32_t)H, (uint32_t)B);
    linear(vk, lb->x2, lb->att, L->attn_wo, L->attn_bo, n, d, d, lb->x1, 1.0f, 0);

    layernorm(vk, lb->ln, lb->x2, L->conv_ln_w, L->conv_ln_b, n, d, NONE, T);
    linear(vk, lb->pw1, lb->ln, L->conv_pw1_w, L->conv_pw1_b, n, d, 2 * d, NONE, 1.0f, 0);
    eltwise(vk, (eltwise_pc){.op = OP_GLU, .count = (uint32_t)(n * d), .d = (uint32_t)d, .x = lb->pw1, .y = lb->glu});
    dwconv_pc dw = {(uint32_t)B, (uint32_t)T, (uint32_t)d, (uint32_t)k,
                    (uint32_t)(cfg->causal_conv ? k - 1 : (k - 1) / 2), lb->glu, woff(vk, L->conv_dw_w),
                    woff(vk, L->conv_dw_b), lb->tmp, lb->lens};
    dispatch_line(vk, K_DWCONV, &dw, sizeof dw, ceil_div(n * d, 256));
    layernorm(vk, lb->ln, lb->tmp, L->conv_norm_w, L->conv_norm_b, n, d, NONE, T);
    eltwise(vk, (eltwise_pc){.op = OP_SWISH, .count = (uint32_t)(n * d), .x = lb->ln, .y = lb->ln});
    linear(vk, lb->x3, lb->ln, L->conv_pw2_w, L->conv_pw2_b, n, d, d, lb->x2, 1.0f, 0);

    layernorm(vk, lb->ln, lb->x3, L->ffn2_ln_w, L->ffn2_ln_b, n, d, NONE, T);
    linear(vk, lb->h, lb->ln, L->ffn2_w1, L->ffn2_b1, n, d, f, NONE, 1.0f, 1);
    linear(vk, lb->x4, lb->h, L->ffn2_w2, L->ffn2_b2, n, f, d, lb->x3, 0.5f, 0);
    layernorm(vk, y, lb->x4, L->out_ln_w, L->out_ln_b, n, d, lb->lens, T);
}

/* Records the speech and shared layers (speech != 0) or the shared ones from lb->xa; returns
 * the offset of the last one's output. */
static uint32_t record_layers(mslam_vk *vk, const struct mslam_model_config *cfg, const mslam_params *P,
                              const layer_bufs *lb, int B, int T, const attn_mask *mask, int speech) {
    int n_layers = (speech ? cfg->n_speech_layers : 0) + cfg->n_shared_layers;
    uint32_t x = lb->xa, y = lb->xb;
    for (int i = 0; i < n_layers; i++) {
        int first_shared = speech ? cfg->n_speech_layers : 0;
        const conformer_layer_params *L = i < first_shared ? &P->speech[i] : &P->shared[i - first_shared];
        record_layer(vk, cfg, L, lb, B, T, mask, x, y);
        uint32_t t = x;
        x = y;
        y = t;
    }
    return x;
}

/* The staging a pass needs: its inputs go in, its output comes out, in turn */
static size_t staging_bytes(size_t in_floats, size_t out_floats) {
    return (in_floats > out_floats ? in_floats : out_floats) * sizeof(float);
}

/* Starts a pass of plan p whose first in_floats are its inputs and whose output has out_floats:
 * locks vk, grows its buffers, begins the command buffer with the inputs' copy from staging and
 * writes the layers' inputs there (frames[b] valid frames of item b, T frames' sinusoids). The
 * caller writes its own inputs into the staging returned, records its dispatches and ends with
 * pass_end. NULL (unlocked, error recorded) on failure. */
static float *pass_begin(mslam_vk *vk, const plan *p, size_t in_floats, size_t out_floats, const layer_bufs *lb,
                         const int *frames, int B, int T, int d) {
    pthread_mutex_lock(&vk->lock);
    if (atomic_load(&vk->lost)) {
        pthread_mutex_unlock(&vk->lock);
        char message[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE + 128];
        snprintf(message, sizeof message, "Vulkan device %s was lost in an earlier pass: " LOST_WHAT_TO_DO, vk->name);
        lost_error(vk, message);
        return NULL;
    }
    if (reserve(vk, p->used, staging_bytes(in_floats, out_floats)) || begin(vk)) {
        pthread_mutex_unlock(&vk->lock);
        return NULL;
    }
    float *staging = vk->staging.map;
    for (int b = 0; b < B; b++) staging[lb->lens + b] = (float)frames[b];
    sinusoid_table(staging + lb->pe, -(T - 1), 2 * T - 1, d);
    copy(vk, vk->staging.buf, 0, vk->acts.buf, 0, in_floats * sizeof(float));
    barrier(vk, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
            VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    return staging;
}

/* Records the copy of the output (floats at `at`) to staging, submits, waits, copies it to out
 * and unlocks vk. */
static int pass_end(mslam_vk *vk, uint32_t at, size_t floats, float *out) {
    barrier(vk, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
            VK_ACCESS_TRANSFER_READ_BIT);
    copy(vk, vk->acts.buf, (VkDeviceSize)at * sizeof(float), vk->staging.buf, 0, floats * sizeof(float));
    /* the fence alone does not make the copy visible to the host's reads */
    barrier(vk, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
            VK_ACCESS_HOST_READ_BIT);
    int rc = submit_and_wait(vk);
    if (!rc) memcpy(out, vk->staging.map, floats * sizeof(float));
    pthread_mutex_unlock(&vk->lock);
    return rc;
}

/* Where a pass's buffers lie in the activations: its inputs first (the first in_floats, in the
 * order staging holds them: the layers' lengths and sinusoids, then the path's own). */
typedef struct {
    plan p;
    layer_bufs lb;
    size_t in_floats;
    uint32_t mel_lens, mel, mel_norm, c1, c2t; /* speech */
    uint32_t pre_ln;                           /* text: the embedded characters with positions */
} pass_plan;

static void plan_speech(pass_plan *pp, const struct mslam_model_config *cfg, int B, int T_mel) {
    int M = cfg->n_mels, C = cfg->sub_channels, T = mslam_subsampled_frames(T_mel);
    size_t T1 = (size_t)(T_mel - 3) / 2 + 1, F1 = (size_t)(M - 3) / 2 + 1, F2 = (size_t)mslam_subsampled_mels(M);
    memset(pp, 0, sizeof *pp);
    pp->lb.lens = take(&pp->p, (size_t)B);
    pp->lb.pe = take(&pp->p, (2 * (size_t)T - 1) * cfg->d_model);
    pp->mel_lens = take(&pp->p, (size_t)B);
    pp->mel = take(&pp->p, (size_t)B * T_mel * M);
    pp->in_floats = pp->p.used;
    plan_layers(&pp->p, &pp->lb, cfg, B, T);
    /* the subsampler's buffers are dead when the first layer starts: they lie over the layers'
     * after xa, which the subsampler's output projection writes (the first convolution's output
     * is the largest buffer of a pass) */
    size_t layers_end = pp->p.used;
    pp->p.used = pp->lb.xb;
    pp->mel_norm = take(&pp->p, (size_t)B * T_mel * M);
    pp->c1 = take(&pp->p, (size_t)B * C * T1 * F1);
    pp->c2t = take(&pp->p, (size_t)B * T * C * F2);
    if (pp->p.used < layers_end) pp->p.used = layers_end;
}

static void plan_text(pass_plan *pp, const struct mslam_model_config *cfg, int B, int L) {
    memset(pp, 0, sizeof *pp);
    pp->lb.lens = take(&pp->p, (size_t)B);
    pp->lb.pe = take(&pp->p, (2 * (size_t)L - 1) * cfg->d_model);
    pp->pre_ln = take(&pp->p, (size_t)B * L * cfg->d_model);
    pp->in_floats = pp->p.used;
    plan_layers(&pp->p, &pp->lb, cfg, B, L);
}

int mslam_vk_fits(mslam_vk *vk, const struct mslam_model_config *cfg, int speech, int B, int length, char *why,
                  size_t why_size) {
    pass_plan pp;
    if (speech) plan_speech(&pp, cfg, B, length);
    else plan_text(&pp, cfg, B, length);
    if (why && why_size) *why = '\0';
    /* the workgroup counts the device takes: attention has one group per frame (x), head (y) and
     * item (z), the linear layers one per 64 rows (y); the rest go through dispatch_line */
    size_t T = speech ? (size_t)mslam_subsampled_frames(length) : (size_t)length, rows = (size_t)B * T;
    const struct {
        size_t groups;
        uint32_t limit;
        int axis;
        const char *what;
    } counts[] = {
        {T, vk->max_groups_x, 0, speech ? "the attention needs one a frame" : "the attention needs one a character"},
        {(size_t)cfg->n_heads, vk->max_groups_y, 1, "the attention needs one a head"},
        {(size_t)B, vk->max_groups_z, 2, "the attention needs one an item"},
        {ceil_div(rows, 64), vk->max_groups_y, 1,
         speech ? "the linear layers need one per 64 of the items' frames" : "the linear layers need one per 64 of the "
                  "items' characters"},
    };
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (counts[i].groups > counts[i].limit) {
            if (why && why_size)
                snprintf(why, why_size, "needs more workgroups than the Vulkan device dispatches; %s, %zu, and "
                         "maxComputeWorkGroupCount[%d] is %u", counts[i].what, counts[i].groups, counts[i].axis,
                         counts[i].limit);
            return 0;
        }
    VkDeviceSize act_bytes = (VkDeviceSize)pp.p.used * sizeof(float);
    if (act_bytes > vk->max_range || pp.p.used >= NONE) {
        if (why && why_size)
            snprintf(why, why_size, "is more than the Vulkan device's buffers hold (%.1f MB of activations, %.1f MB "
                     "in one buffer)", act_bytes / 1e6, vk->max_range / 1e6);
        return 0;
    }
    /* a lost device: the pass says so; a device that reports no budget: nothing to check (and
     * no pass in flight to wait for) */
    if (atomic_load(&vk->lost) || !(vk->memory_properties2 || pretence.heap_free_bytes)) return 1;
    pthread_mutex_lock(&vk->lock);
    int holds = memory_holds(vk, pp.p.used, staging_bytes(pp.in_floats, (size_t)B * T * cfg->d_model), why, why_size);
    pthread_mutex_unlock(&vk->lock);
    return holds;
}

int mslam_vk_encode_speech(mslam_vk *vk, const struct mslam_model_config *cfg, const mslam_params *P,
                           const float *mel, const int *mel_lens, int B, int T_mel, const attn_mask *mask,
                           float *out) {
    int M = cfg->n_mels, C = cfg->sub_channels, d = cfg->d_model;
    int T = mslam_subsampled_frames(T_mel), T1 = (T_mel - 3) / 2 + 1, F1 = (M - 3) / 2 + 1;
    int F2 = mslam_subsampled_mels(M);
    if (B <= 0 || T <= 0) return mslam_error("Vulkan: a speech batch of %d x %d mel frames is too short", B, T_mel);
    if (params_on_device(vk, P)) return -1;
    size_t n = (size_t)B * T;
    int *frames = mslam_malloc((size_t)B * sizeof(int), "frame lengths");
    if (!frames) return -1;
    for (int b = 0; b < B; b++) frames[b] = mslam_subsampled_frames(mel_lens[b]);
    pass_plan pp;
    plan_speech(&pp, cfg, B, T_mel);
    const layer_bufs *lb = &pp.lb;

    float *staging = pass_begin(vk, &pp.p, pp.in_floats, n * d, lb, frames, B, T, d);
    free(frames);
    if (!staging) return -1;
    for (int b = 0; b < B; b++) staging[pp.mel_lens + b] = (float)mel_lens[b];
    memcpy(staging + pp.mel, mel, (size_t)B * T_mel * M * sizeof(float));
    eltwise(vk, (eltwise_pc){.op = OP_MEL_NORM, .count = (uint32_t)((size_t)B * T_mel * M), .d = (uint32_t)M,
                             .T = (uint32_t)T_mel, .x = pp.mel, .y = pp.mel_norm, .wa = woff(vk, P->mel_mean),
                             .wb = woff(vk, P->mel_std), .lens = pp.mel_lens});
    conv2d_pc conv1 = {(uint32_t)B, 1, (uint32_t)T_mel, (uint32_t)M, (uint32_t)C, pp.mel_norm,
                       woff(vk, P->sub_conv1_w), woff(vk, P->sub_conv1_b), pp.c1, 0};
    dispatch_line(vk, K_CONV2D, &conv1, sizeof conv1, ceil_div((size_t)B * C * T1 * F1, 256));
    conv2d_pc conv2 = {(uint32_t)B, (uint32_t)C, (uint32_t)T1, (uint32_t)F1, (uint32_t)C, pp.c1,
                       woff(vk, P->sub_conv2_w), woff(vk, P->sub_conv2_b), pp.c2t, 1};
    dispatch_line(vk, K_CONV2D, &conv2, sizeof conv2, ceil_div((size_t)B * C * T * F2, 256));
    linear(vk, lb->xa, pp.c2t, P->sub_out_w, P->sub_out_b, n, C * F2, d, NONE, 1.0f, 0);
    eltwise(vk, (eltwise_pc){.op = OP_ZERO_ROWS, .count = (uint32_t)(n * d), .d = (uint32_t)d, .T = (uint32_t)T,
                             .y = lb->xa, .lens = lb->lens});
    return pass_end(vk, record_layers(vk, cfg, P, lb, B, T, mask, 1), n * d, out);
}

int mslam_vk_encode_text(mslam_vk *vk, const struct mslam_model_config *cfg, const mslam_params *P,
                         const int *ids, const int *lens, int B, int L, float *out) {
    int d = cfg->d_model;
    if (B <= 0 || L <= 0) return mslam_error("Vulkan: a text batch of %d x %d characters is empty", B, L);
    if (params_on_device(vk, P)) return -1;
    size_t n = (size_t)B * L;
    pass_plan pp;
    plan_text(&pp, cfg, B, L);

    float *staging = pass_begin(vk, &pp.p, pp.in_floats, n * d, &pp.lb, lens, B, L, d);
    if (!staging) return -1;
    /* positions 0 .. L-1 are the sinusoids' rows L-1 .. 2L-2 (distances 0 .. L-1) */
    text_embed_forward(staging + pp.pre_ln, ids, staging + pp.lb.pe + (size_t)(L - 1) * d, P, B, L, d);
    layernorm(vk, pp.lb.xa, pp.pre_ln, P->text_ln_w, P->text_ln_b, n, d, pp.lb.lens, L);
    return pass_end(vk, record_layers(vk, cfg, P, &pp.lb, B, L, NULL, 0), n * d, out);
}

#endif
