#include "params.h"

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mslam_subsampled_mels(int n_mels) { return n_mels < 7 ? 0 : ((n_mels - 3) / 2 + 1 - 3) / 2 + 1; }

int mslam_subsampled_frames(int n_mel_frames) {
    if (n_mel_frames < 7) return 0;
    return ((n_mel_frames - 3) / 2 + 1 - 3) / 2 + 1;
}

int mslam_subsampler_window(int n_frames) { return 4 * (n_frames - 1) + 7; }

int mslam_config_check(const struct mslam_model_config *c) {
#define POSITIVE(field, max)                                                                   \
    if (c->field <= 0 || c->field > (max))                                                     \
        return mslam_error("config: " #field " = %d is out of range (1..%d)", c->field, (max));
    POSITIVE(n_mels, 1024)
    POSITIVE(d_model, 1 << 14)
    POSITIVE(n_heads, 256)
    POSITIVE(d_ff, 1 << 16)
    POSITIVE(conv_kernel, 255)
    POSITIVE(sub_channels, 4096)
    POSITIVE(vocab_size, 1 << 20)
    POSITIVE(n_langs, 4096)
#undef POSITIVE
    if (c->n_speech_layers < 0 || c->n_speech_layers > MSLAM_MAX_LAYERS)
        return mslam_error("config: n_speech_layers = %d is out of range (0..%d)",
                           c->n_speech_layers, MSLAM_MAX_LAYERS);
    if (c->n_shared_layers < 0 || c->n_shared_layers > MSLAM_MAX_LAYERS)
        return mslam_error("config: n_shared_layers = %d is out of range (0..%d)",
                           c->n_shared_layers, MSLAM_MAX_LAYERS);
    if (c->n_mels < 7) return mslam_error("config: n_mels = %d is below 7, too few for the subsampler", c->n_mels);
    if (c->d_model % c->n_heads)
        return mslam_error("config: d_model = %d is not a multiple of n_heads = %d", c->d_model, c->n_heads);
    if (c->d_model % 2) return mslam_error("config: d_model = %d must be even (sinusoidal positions)", c->d_model);
    if (c->conv_kernel % 2 == 0) return mslam_error("config: conv_kernel = %d must be odd", c->conv_kernel);
    if (c->causal_conv != 0 && c->causal_conv != 1)
        return mslam_error("config: causal_conv = %d must be 0 or 1", c->causal_conv);
    if (c->ctc_head != 0 && c->ctc_head != 1)
        return mslam_error("config: ctc_head = %d must be 0 or 1", c->ctc_head);
    if (c->lid_head != 0 && c->lid_head != 1)
        return mslam_error("config: lid_head = %d must be 0 or 1", c->lid_head);
    if (c->n_decoder_layers < 0 || c->n_decoder_layers > MSLAM_MAX_LAYERS)
        return mslam_error("config: n_decoder_layers = %d is out of range (0..%d)", c->n_decoder_layers,
                           MSLAM_MAX_LAYERS);
    if (c->translate_input != MSLAM_TRANSLATE_SPEECH && c->translate_input != MSLAM_TRANSLATE_TRANSCRIPT)
        return mslam_error("config: translate_input = %d must be 0 (speech) or 1 (transcript)", c->translate_input);
    if (c->n_codes < 0 || c->n_codes > (1 << 16))
        return mslam_error("config: n_codes = %d is out of range (0..%d)", c->n_codes, 1 << 16);
    if (c->quantizer != MSLAM_QUANTIZER_GUMBEL && c->quantizer != MSLAM_QUANTIZER_RANDOM)
        return mslam_error("config: quantizer = %d must be 0 (Gumbel) or 1 (random)", c->quantizer);
    if (c->quantizer == MSLAM_QUANTIZER_RANDOM && c->n_codes == 0)
        return mslam_error("config: quantizer = 1 (random) needs the pre-training tensors (n_codes > 0)");
    if (c->translate_input == MSLAM_TRANSLATE_TRANSCRIPT && (!c->ctc_head || c->n_decoder_layers == 0))
        return mslam_error("config: translate_input = 1 (the CTC transcript) needs a CTC head and a decoder");
    return 0;
}

typedef struct {
    mslam_param_table *t;
    int cap;
    int failed;
} table_builder;

static void add(table_builder *b, float **slot, int ndim, const int *shape, const char *fmt, ...)
    MSLAM_PRINTF(5, 6);

#include <stdarg.h>
static void add(table_builder *b, float **slot, int ndim, const int *shape, const char *fmt, ...) {
    if (b->failed) return;
    if (b->t->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        mslam_param_entry *e = realloc(b->t->entries, (size_t)cap * sizeof *e);
        if (!e) {
            b->failed = 1;
            mslam_error("out of memory building the parameter table");
            return;
        }
        b->t->entries = e;
        b->cap = cap;
    }
    mslam_param_entry *e = &b->t->entries[b->t->n++];
    memset(e, 0, sizeof *e);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->name, sizeof e->name, fmt, ap);
    va_end(ap);
    e->ndim = ndim;
    e->numel = 1;
    for (int i = 0; i < ndim; i++) {
        e->shape[i] = shape[i];
        e->numel *= (size_t)shape[i];
    }
    e->offset = b->t->total;
    e->slot = slot;
    b->t->total += e->numel;
}

#define ADD(slot, ...) add(b, &(slot), sizeof((int[]){__VA_ARGS__}) / sizeof(int), (int[]){__VA_ARGS__},
#define P1(slot, n0, ...) ADD(slot, n0) __VA_ARGS__)
#define P2(slot, n0, n1, ...) ADD(slot, n0, n1) __VA_ARGS__)

/* Pre-LN feed-forward block: LayerNorm, linear d -> f, linear f -> d. */
static void add_ffn(table_builder *b, float **ln_w, float **ln_b, float **w1, float **b1, float **w2,
                    float **b2, const char *prefix, int d, int f) {
    P1(*ln_w, d, "%s.ln.weight", prefix);
    P1(*ln_b, d, "%s.ln.bias", prefix);
    P2(*w1, f, d, "%s.linear1.weight", prefix);
    P1(*b1, f, "%s.linear1.bias", prefix);
    P2(*w2, d, f, "%s.linear2.weight", prefix);
    P1(*b2, d, "%s.linear2.bias", prefix);
}

static void add_layer(table_builder *b, conformer_layer_params *l, const char *prefix, int i,
                      const struct mslam_model_config *c) {
    int d = c->d_model, f = c->d_ff, H = c->n_heads, e = c->d_model / c->n_heads, k = c->conv_kernel;
    char name[48];
    snprintf(name, sizeof name, "%s.%d.ffn1", prefix, i);
    add_ffn(b, &l->ffn1_ln_w, &l->ffn1_ln_b, &l->ffn1_w1, &l->ffn1_b1, &l->ffn1_w2, &l->ffn1_b2, name, d, f);
    P1(l->attn_ln_w, d, "%s.%d.attn.ln.weight", prefix, i);
    P1(l->attn_ln_b, d, "%s.%d.attn.ln.bias", prefix, i);
    P2(l->attn_wq, d, d, "%s.%d.attn.q.weight", prefix, i);
    P1(l->attn_bq, d, "%s.%d.attn.q.bias", prefix, i);
    P2(l->attn_wk, d, d, "%s.%d.attn.k.weight", prefix, i);
    P1(l->attn_bk, d, "%s.%d.attn.k.bias", prefix, i);
    P2(l->attn_wv, d, d, "%s.%d.attn.v.weight", prefix, i);
    P1(l->attn_bv, d, "%s.%d.attn.v.bias", prefix, i);
    P2(l->attn_wpos, d, d, "%s.%d.attn.pos.weight", prefix, i);
    P2(l->attn_pos_u, H, e, "%s.%d.attn.pos_bias_u", prefix, i);
    P2(l->attn_pos_v, H, e, "%s.%d.attn.pos_bias_v", prefix, i);
    P2(l->attn_wo, d, d, "%s.%d.attn.out.weight", prefix, i);
    P1(l->attn_bo, d, "%s.%d.attn.out.bias", prefix, i);
    P1(l->conv_ln_w, d, "%s.%d.conv.ln.weight", prefix, i);
    P1(l->conv_ln_b, d, "%s.%d.conv.ln.bias", prefix, i);
    P2(l->conv_pw1_w, 2 * d, d, "%s.%d.conv.pw1.weight", prefix, i);
    P1(l->conv_pw1_b, 2 * d, "%s.%d.conv.pw1.bias", prefix, i);
    P2(l->conv_dw_w, d, k, "%s.%d.conv.dw.weight", prefix, i);
    P1(l->conv_dw_b, d, "%s.%d.conv.dw.bias", prefix, i);
    P1(l->conv_norm_w, d, "%s.%d.conv.norm.weight", prefix, i);
    P1(l->conv_norm_b, d, "%s.%d.conv.norm.bias", prefix, i);
    P2(l->conv_pw2_w, d, d, "%s.%d.conv.pw2.weight", prefix, i);
    P1(l->conv_pw2_b, d, "%s.%d.conv.pw2.bias", prefix, i);
    snprintf(name, sizeof name, "%s.%d.ffn2", prefix, i);
    add_ffn(b, &l->ffn2_ln_w, &l->ffn2_ln_b, &l->ffn2_w1, &l->ffn2_b1, &l->ffn2_w2, &l->ffn2_b2, name, d, f);
    P1(l->out_ln_w, d, "%s.%d.ln_out.weight", prefix, i);
    P1(l->out_ln_b, d, "%s.%d.ln_out.bias", prefix, i);
}

static void add_attention(table_builder *b, float **ln_w, float **ln_b, float **wq, float **bq,
                          float **wk, float **bk, float **wv, float **bv, float **wo, float **bo,
                          const char *prefix, int d) {
    P1(*ln_w, d, "%s.ln.weight", prefix);
    P1(*ln_b, d, "%s.ln.bias", prefix);
    P2(*wq, d, d, "%s.q.weight", prefix);
    P1(*bq, d, "%s.q.bias", prefix);
    P2(*wk, d, d, "%s.k.weight", prefix);
    P1(*bk, d, "%s.k.bias", prefix);
    P2(*wv, d, d, "%s.v.weight", prefix);
    P1(*bv, d, "%s.v.bias", prefix);
    P2(*wo, d, d, "%s.out.weight", prefix);
    P1(*bo, d, "%s.out.bias", prefix);
}

static void add_decoder_layer(table_builder *b, decoder_layer_params *l, int i,
                              const struct mslam_model_config *c) {
    int d = c->d_model, f = c->d_ff;
    char prefix[48];
    snprintf(prefix, sizeof prefix, "decoder_layers.%d.self_attn", i);
    add_attention(b, &l->self_ln_w, &l->self_ln_b, &l->self_wq, &l->self_bq, &l->self_wk, &l->self_bk,
                  &l->self_wv, &l->self_bv, &l->self_wo, &l->self_bo, prefix, d);
    snprintf(prefix, sizeof prefix, "decoder_layers.%d.cross_attn", i);
    add_attention(b, &l->cross_ln_w, &l->cross_ln_b, &l->cross_wq, &l->cross_bq, &l->cross_wk,
                  &l->cross_bk, &l->cross_wv, &l->cross_bv, &l->cross_wo, &l->cross_bo, prefix, d);
    snprintf(prefix, sizeof prefix, "decoder_layers.%d.ffn", i);
    add_ffn(b, &l->ffn_ln_w, &l->ffn_ln_b, &l->ffn_w1, &l->ffn_b1, &l->ffn_w2, &l->ffn_b2, prefix, d, f);
}

int mslam_param_table_build(mslam_param_table *table, const struct mslam_model_config *c,
                            mslam_params *params) {
    memset(table, 0, sizeof *table);
    if (mslam_config_check(c)) return -1;
    table_builder builder = {table, 0, 0}, *b = &builder;
    int d = c->d_model, C = c->sub_channels, F2 = mslam_subsampled_mels(c->n_mels);
    P1(params->mel_mean, c->n_mels, "frontend.mel_mean");
    P1(params->mel_std, c->n_mels, "frontend.mel_std");
    ADD(params->sub_conv1_w, C, 1, 3, 3) "subsampler.conv1.weight");
    P1(params->sub_conv1_b, C, "subsampler.conv1.bias");
    ADD(params->sub_conv2_w, C, C, 3, 3) "subsampler.conv2.weight");
    P1(params->sub_conv2_b, C, "subsampler.conv2.bias");
    P2(params->sub_out_w, d, C * F2, "subsampler.out.weight");
    P1(params->sub_out_b, d, "subsampler.out.bias");
    P2(params->text_embed, c->vocab_size, d, "text.embed.weight");
    P1(params->text_ln_w, d, "text.ln.weight");
    P1(params->text_ln_b, d, "text.ln.bias");
    for (int i = 0; i < c->n_speech_layers; i++) add_layer(b, &params->speech[i], "speech_layers", i, c);
    for (int i = 0; i < c->n_shared_layers; i++) add_layer(b, &params->shared[i], "shared_layers", i, c);
    if (c->ctc_head) {
        P2(params->ctc_w, c->vocab_size, d, "ctc.weight");
        P1(params->ctc_b, c->vocab_size, "ctc.bias");
    }
    if (c->lid_head) {
        P2(params->lid_w, c->n_langs, d, "lid.weight");
        P1(params->lid_b, c->n_langs, "lid.bias");
    }
    if (c->n_decoder_layers > 0) {
        P2(params->dec_embed, c->vocab_size, d, "decoder.embed.weight");
        for (int i = 0; i < c->n_decoder_layers; i++) add_decoder_layer(b, &params->dec[i], i, c);
        P1(params->dec_ln_w, d, "decoder.ln.weight");
        P1(params->dec_ln_b, d, "decoder.ln.bias");
        P2(params->dec_out_w, c->vocab_size, d, "decoder.out.weight");
        P1(params->dec_out_b, c->vocab_size, "decoder.out.bias");
    }
    if (c->n_codes > 0) {
        int K = c->n_codes;
        P1(params->pt_speech_mask, d, "pretrain.speech_mask");
        P1(params->pt_text_mask, d, "pretrain.text_mask");
        if (c->quantizer == MSLAM_QUANTIZER_GUMBEL) {
            P2(params->pt_quant_w, K, d, "pretrain.quantizer.weight");
            P1(params->pt_quant_b, K, "pretrain.quantizer.bias");
            P2(params->pt_codebook, K, d, "pretrain.codebook");
            P2(params->pt_ctx_w, d, d, "pretrain.contrastive.weight");
            P1(params->pt_ctx_b, d, "pretrain.contrastive.bias");
        }
        P2(params->pt_mlm_w, K, d, "pretrain.mlm.weight");
        P1(params->pt_mlm_b, K, "pretrain.mlm.bias");
        P2(params->pt_text_w, c->vocab_size, d, "pretrain.text_mlm.weight");
        P1(params->pt_text_b, c->vocab_size, "pretrain.text_mlm.bias");
    }
    if (builder.failed) {
        mslam_param_table_free(table);
        return -1;
    }
    return 0;
}

void mslam_param_table_free(mslam_param_table *table) {
    free(table->entries);
    memset(table, 0, sizeof *table);
}

static int slot_among(const mslam_param_entry *e, float *const *const *slots, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (e->slot == slots[i]) return 1;
    return 0;
}

int mslam_param_rows_are_chars(const mslam_params *params, const mslam_param_entry *e) {
    /* every P1/P2 of c->vocab_size rows in mslam_param_table_build */
    float *const *over_vocab[] = {&params->text_embed, &params->ctc_w,     &params->ctc_b,     &params->dec_embed,
                                  &params->dec_out_w,  &params->dec_out_b, &params->pt_text_w, &params->pt_text_b};
    return slot_among(e, over_vocab, sizeof over_vocab / sizeof *over_vocab);
}

int mslam_param_rows_are_codes(const mslam_params *params, const mslam_param_entry *e) {
    /* every P1/P2 of c->n_codes rows in mslam_param_table_build */
    float *const *over_codes[] = {&params->pt_quant_w, &params->pt_quant_b, &params->pt_codebook, &params->pt_mlm_w,
                                  &params->pt_mlm_b};
    return slot_among(e, over_codes, sizeof over_codes / sizeof *over_codes);
}

void mslam_params_bind(const mslam_param_table *table, float *block) {
    for (int i = 0; i < table->n; i++) *table->entries[i].slot = block + table->entries[i].offset;
}
