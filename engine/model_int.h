/* The loaded model as the forward pass sees it (model.c builds it, forward.c reads it).
 *
 * A `struct eng_model` is built once by eng_model_load and never changes afterwards, so any
 * number of sessions on any threads may read it at once. Weight matrices stay where their
 * source mapped them (a GGUF file or the safetensors shards of a HF directory) in their
 * stored type; every matrix uses ggml's layout: ne[0] is the row length (input features),
 * ne[1] the number of rows (output features). The small vectors (norm weights, biases) are
 * converted to f32 at load into one owned block, so the forward pass never dequantises them.
 */
#pragma once

#include "engine/eng_int.h"

/* One transformer block. Norm weights and biases point into `eng_model.f32`. */
struct eng_layer {
    float *attn_norm;         /* (d_model) pre-attention RMSNorm weight */
    struct eng_tensor wq;     /* (d_model, q_dim) */
    struct eng_tensor wk;     /* (d_model, kv_dim) */
    struct eng_tensor wv;     /* (d_model, kv_dim) */
    struct eng_tensor wqkv;   /* (d_model, q_dim + 2*kv_dim): rows q | k | v, when fused */
    bool fused_qkv;           /* wqkv is used; else wq, wk, wv */
    float *bq, *bk, *bv;      /* (q_dim), (kv_dim), (kv_dim); all NULL when the file has none */
    struct eng_tensor wo;     /* (q_dim, d_model) attention output projection */
    float *post_attn_norm;    /* (d_model) glm4 only: norm of the attention output, else NULL */
    float *ffn_norm;          /* (d_model) pre-FFN RMSNorm weight */
    struct eng_tensor w_up;   /* (d_model, 2*d_ffn): rows gate | up */
    struct eng_tensor w_down; /* (d_ffn, d_model) */
    float *post_ffw_norm;     /* (d_model) glm4 only: norm of the FFN output, else NULL */
};

struct eng_model {
    struct eng_hparams hp;
    int32_t q_dim;         /* n_head * head_dim */
    int32_t kv_dim;        /* n_head_kv * head_dim */
    char *path;            /* as given to eng_model_load (owned; for messages) */
    struct eng_gguf *gguf; /* exactly one source is open; weights point into it */
    struct eng_hf *hf;
    struct eng_tensor tok_embd; /* (d_model, n_vocab) */
    struct eng_tensor output;   /* (d_model, n_vocab); equal to tok_embd when tied */
    float *output_norm;         /* (d_model) */
    struct eng_layer *layers;   /* (n_layer) */
    float *f32;                 /* owns every norm weight and bias above */
};

/* Bytes of one row of `t` (ne[0] elements of its type). */
static inline size_t eng_tensor_row_bytes(const struct eng_tensor *t)
{
    return (size_t)t->ne[0] / eng_type_block_size(t->type) * eng_type_block_bytes(t->type);
}
