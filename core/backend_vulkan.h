/* Vulkan compute backend: the encoder's offline forward pass (speech and text) on a GPU.
 *
 * As ggml's Vulkan backend: GLSL compute shaders (shaders/) compiled to SPIR-V at build time and
 * embedded; one descriptor-set layout of two storage buffers (the model's weights, uploaded once,
 * and a pass's activations) and push constants carrying each dispatch's sizes and float offsets,
 * so one descriptor set serves every dispatch; pipelines made once per device; a pass recorded
 * into one command buffer (inputs copied in, every dispatch with a barrier after it, the output
 * copied out), one submit, one fence. The CPU kernels (ops_cpu.c) are the reference: the results
 * agree with mslam_encoder_*_forward within float rounding (tests/test_vulkan.c).
 *
 * Streams (stream.c), the heads and the decoders stay on the CPU. A context serves one model and
 * any number of threads: passes take its lock in turn. */
#ifndef MSLAM_BACKEND_VULKAN_H
#define MSLAM_BACKEND_VULKAN_H

#include "mslam.h"
#include "ops.h"
#include "params.h"

typedef struct mslam_vk mslam_vk;

/* Whether this build has the backend (meson option vulkan). */
int mslam_vk_available(void);

/* Opens a Vulkan device for model and uploads its weights. device is MSLAM_DEVICE_AUTO (a GPU:
 * discrete, integrated or virtual, else none) or MSLAM_DEVICE_VULKAN (any Vulkan device, a CPU
 * implementation such as Mesa's lavapipe included); MSLAM_VULKAN_DEVICE (an index of
 * vkEnumeratePhysicalDevices or part of a device's name) picks one for either. A device whose
 * compute limits are below what the shaders declare (workgroup size and invocations, shared
 * memory) is not picked: the next one that MSLAM_VULKAN_DEVICE names is, and where none is left
 * the error names each and why. Returns 0 with *out set; 0 with *out NULL for MSLAM_DEVICE_CPU, and for
 * AUTO when it finds no GPU, the device fails to start or cannot run the model (heads wider than
 * the attention shader holds, limits below the shaders', weights larger than a buffer or the
 * memory free; why logged); -1 when VULKAN finds no device or it fails (error recorded). */
int mslam_vk_open(mslam_vk **out, const mslam_model *model, enum mslam_device device);
void mslam_vk_close(mslam_vk *vk);
/* The device's name, as Vulkan reports it. */
const char *mslam_vk_device_name(const mslam_vk *vk);

/* Whether a pass of B items of length mel frames (speech != 0) or characters fits the device:
 * its workgroup counts, its buffers (a storage buffer spans at most maxStorageBufferRange: 128 MB
 * on lavapipe, 4 GB on most GPUs), and the memory free where the device reports it
 * (VK_EXT_memory_budget), for the buffers that the pass would grow, as the pass allocates them
 * (each one's old buffer freed first). Allocates nothing; another pass or program may take the
 * memory before the pass runs, and the pass's own check then fails it. The encoder runs a pass
 * that does not fit on the CPU. Where it does not, writes which limit into why (why_size bytes;
 * why may be NULL), worded to follow "it" in the encoder's log: "needs more memory than the Vulkan
 * device has free; ...". Takes vk's lock (a pass holds it while it runs). */
int mslam_vk_fits(mslam_vk *vk, const struct mslam_model_config *cfg, int speech, int B, int length, char *why,
                  size_t why_size);

/* Whether the device was lost (VK_ERROR_DEVICE_LOST: a GPU reset, a driver crash) in a pass or
 * the upload: every later pass is refused with an error saying so, and the caller reloads the
 * model (a fresh device) or loads it with MSLAM_DEVICE_CPU. */
int mslam_vk_lost(const mslam_vk *vk);
/* Whether the encoder runs vk's passes on the CPU instead: the device was lost and vk was opened
 * under MSLAM_DEVICE_AUTO. The loss logs one warning saying so; the pass that met it fails with
 * the error of mslam_vk_lost, recorded but not logged, and the encoder runs it again on the CPU. */
int mslam_vk_cpu_instead(const mslam_vk *vk);
/* Whether vk was opened under MSLAM_DEVICE_AUTO: a pass it fails for any reason (memory another
 * program took after mslam_vk_fits said it fits, say) runs on the CPU instead. */
int mslam_vk_auto(const mslam_vk *vk);
/* Records how a pass on vk went (ok: it ran on the device); for a failed one, returns whether it
 * is the first since one ran, so that a failure that lasts (memory another program holds) is
 * warned of once, not at every pass. */
int mslam_vk_pass_ran(mslam_vk *vk, int ok);

/* As mslam_encoder_speech_forward with save = 0, on the weights uploaded: cfg and P are the
 * model's that mslam_vk_open had (P pointing elsewhere is an error). mel (B, T_mel, n_mels) raw
 * log-mel, rows at or beyond mel_lens[b] ignored; mask NULL: full context. Writes out (B, T,
 * d_model), T = mslam_subsampled_frames(T_mel), padded rows zero. Returns 0 or -1 (error
 * recorded). mslam_encoder_speech_forward calls it for a pass whose vk is set. */
int mslam_vk_encode_speech(mslam_vk *vk, const struct mslam_model_config *cfg, const mslam_params *P,
                           const float *mel, const int *mel_lens, int B, int T_mel, const attn_mask *mask,
                           float *out);
/* As mslam_encoder_text_forward with save = 0: ids (B, L), every one in the vocabulary (the
 * encoder pads with id 0) -> out (B, L, d). */
int mslam_vk_encode_text(mslam_vk *vk, const struct mslam_model_config *cfg, const mslam_params *P,
                         const int *ids, const int *lens, int B, int L, float *out);

/* Tests only (tests/test_vulkan.c; not exported, not thread-safe): limits to take in place of
 * what the device reports, to check what a device below the shaders' needs or short of memory
 * gets. A zero field keeps the device's own. The workgroup and shared-memory limits apply to the
 * devices mslam_vk_open picks from then on; heap_free_bytes stands for every heap's budget less
 * its usage (as VK_EXT_memory_budget reports them) now, and the buffers allocated from then on
 * take from it and those freed give back, as a driver's usage would move. NULL: the device's own
 * again. */
struct mslam_vk_pretence {
    uint32_t max_invocations;  /* maxComputeWorkGroupInvocations */
    uint32_t max_size[3];      /* maxComputeWorkGroupSize */
    uint32_t max_shared_bytes; /* maxComputeSharedMemorySize */
    uint32_t limited_devices;  /* bit i: the limits above apply to device i; 0: to every device */
    int each_device_twice;     /* vkEnumeratePhysicalDevices lists each device twice (i: 2i and 2i + 1),
                                  as a machine with two GPUs of one model would */
    uint64_t heap_free_bytes;
};
void mslam_vk_pretend(const struct mslam_vk_pretence *pretence);
/* Tests only: the wait of vk's next submit (a pass's) ends in VK_ERROR_DEVICE_LOST, as when a GPU
 * resets, after the work has run. */
void mslam_vk_pretend_device_lost(mslam_vk *vk);
/* Tests only: how many VkBuffers the backend has created so far, those made to ask a buffer's
 * memory requirements (mslam_vk_fits) included. */
unsigned mslam_vk_buffers_created(void);

#endif
