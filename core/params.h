/* Parameter layout: the one place that names every tensor of a model.
 *
 * All parameters live in one float block in the order of the parameter table; gradients and
 * optimizer moments are blocks of the same size that line up element for element (llm.c), so
 * the optimizer is one flat loop. mslam_params_bind points the named slots at a block. */
#ifndef MSLAM_PARAMS_H
#define MSLAM_PARAMS_H

#include "mslam.h"

#include <stddef.h>

#define MSLAM_MAX_LAYERS 64
#define MSLAM_PARAM_NAME_MAX 64

/* Conformer block; shapes with d = d_model, f = d_ff, H = n_heads, e = d/H, k = conv_kernel. */
typedef struct {
    float *ffn1_ln_w, *ffn1_ln_b;  /* (d) */
    float *ffn1_w1, *ffn1_b1;      /* (f, d), (f) */
    float *ffn1_w2, *ffn1_b2;      /* (d, f), (d) */
    float *attn_ln_w, *attn_ln_b;  /* (d) */
    float *attn_wq, *attn_bq;      /* (d, d), (d) */
    float *attn_wk, *attn_bk;      /* (d, d), (d) */
    float *attn_wv, *attn_bv;      /* (d, d), (d) */
    float *attn_wpos;              /* (d, d), no bias */
    float *attn_pos_u, *attn_pos_v; /* (H, e) */
    float *attn_wo, *attn_bo;      /* (d, d), (d) */
    float *conv_ln_w, *conv_ln_b;  /* (d) */
    float *conv_pw1_w, *conv_pw1_b; /* (2d, d), (2d) */
    float *conv_dw_w, *conv_dw_b;  /* (d, k), (d) */
    float *conv_norm_w, *conv_norm_b; /* (d) LayerNorm inside the conv module */
    float *conv_pw2_w, *conv_pw2_b; /* (d, d), (d) */
    float *ffn2_ln_w, *ffn2_ln_b;
    float *ffn2_w1, *ffn2_b1;
    float *ffn2_w2, *ffn2_b2;
    float *out_ln_w, *out_ln_b;    /* (d) */
} conformer_layer_params;

/* Transformer decoder block (pre-LN): causal self-attention, cross-attention over the encoder
 * frames, feed-forward (swish); shapes with d = d_model, f = d_ff. */
typedef struct {
    float *self_ln_w, *self_ln_b;   /* (d) */
    float *self_wq, *self_bq, *self_wk, *self_bk, *self_wv, *self_bv, *self_wo, *self_bo; /* (d, d), (d) */
    float *cross_ln_w, *cross_ln_b;
    float *cross_wq, *cross_bq, *cross_wk, *cross_bk, *cross_wv, *cross_bv, *cross_wo, *cross_bo;
    float *ffn_ln_w, *ffn_ln_b;
    float *ffn_w1, *ffn_b1;         /* (f, d), (f) */
    float *ffn_w2, *ffn_b2;         /* (d, f), (d) */
} decoder_layer_params;

typedef struct {
    float *mel_mean, *mel_std;     /* (n_mels) feature normalisation */
    float *sub_conv1_w, *sub_conv1_b; /* (C, 1, 3, 3), (C) */
    float *sub_conv2_w, *sub_conv2_b; /* (C, C, 3, 3), (C) */
    float *sub_out_w, *sub_out_b;  /* (d, C * F2), (d); F2 = mslam_subsampled_mels(n_mels) */
    float *text_embed;             /* (V, d) */
    float *text_ln_w, *text_ln_b;  /* (d) */
    conformer_layer_params speech[MSLAM_MAX_LAYERS];
    conformer_layer_params shared[MSLAM_MAX_LAYERS];
    float *ctc_w, *ctc_b;          /* (V, d), (V) when ctc_head */
    float *lid_w, *lid_b;          /* (n_langs, d), (n_langs) when lid_head */
    float *dec_embed;              /* (V, d) when n_decoder_layers > 0 */
    decoder_layer_params dec[MSLAM_MAX_LAYERS];
    float *dec_ln_w, *dec_ln_b;    /* (d) final LayerNorm */
    float *dec_out_w, *dec_out_b;  /* (V, d), (V) */
    /* pre-training (n_codes = K > 0; trainer/pretrain.h) */
    float *pt_speech_mask, *pt_text_mask; /* (d) what a masked frame or character enters as */
    float *pt_quant_w, *pt_quant_b;       /* (K, d), (K) code logits of a subsampled frame (Gumbel) */
    float *pt_codebook;                   /* (K, d) the codes' vectors (Gumbel) */
    float *pt_ctx_w, *pt_ctx_b;           /* (d, d), (d) projects the speech layers' output (Gumbel) */
    float *pt_mlm_w, *pt_mlm_b;           /* (K, d), (K) code ids from the shared layers */
    float *pt_text_w, *pt_text_b;         /* (V, d), (V) characters from the shared layers */
} mslam_params;

typedef struct {
    char name[MSLAM_PARAM_NAME_MAX]; /* safetensors name, e.g. "shared_layers.0.attn.q.weight" */
    int ndim;
    int shape[4];
    size_t numel;
    size_t offset; /* in floats from the start of the block */
    float **slot;  /* where mslam_params_bind stores the pointer */
} mslam_param_entry;

typedef struct {
    mslam_param_entry *entries;
    int n;
    size_t total; /* floats in the block */
} mslam_param_table;

/* Checks the config (positive sizes, d % H == 0, even d, odd kernel, layer counts within
 * MSLAM_MAX_LAYERS, n_mels large enough) and fills table with slots inside params.
 * Returns 0, or -1 with mslam_last_error naming the field. table->entries is malloc'd. */
int mslam_param_table_build(mslam_param_table *table, const struct mslam_model_config *cfg,
                            mslam_params *params);
void mslam_param_table_free(mslam_param_table *table);
/* Points every slot at block + entry offset. */
void mslam_params_bind(const mslam_param_table *table, float *block);
/* Whether entry e of a table built for params holds one row per vocabulary entry (the text
 * embedding, CTC head, decoder embedding and output, SpanBERT's head): the tensors whose rows
 * follow the characters when a vocabulary changes. */
int mslam_param_rows_are_chars(const mslam_params *params, const mslam_param_entry *e);
/* Whether it holds one row per pre-training code (Gumbel's quantizer and codebook, the masked
 * prediction head): rows that mean nothing under another number of codes. */
int mslam_param_rows_are_codes(const mslam_params *params, const mslam_param_entry *e);
/* Validates a config alone (the same checks as the table builder). */
int mslam_config_check(const struct mslam_model_config *cfg);
/* Mel bins after the two stride-2 valid convs. */
int mslam_subsampled_mels(int n_mels);
/* Encoder frames from mel frames (4x valid-conv subsampling); 0 when too short. */
int mslam_subsampled_frames(int n_mel_frames);
/* Mel frames the subsampler reads for n encoder frames (n >= 1): mslam_subsampled_frames of it is n. */
int mslam_subsampler_window(int n_frames);

#endif
