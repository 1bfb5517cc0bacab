/* Tensor type traits and error names.
 *
 * One table indexed by ggml type id (ggml-org/ggml include/ggml.h, `enum ggml_type`): name,
 * elements per block, bytes per block. Block sizes are the `sizeof(block_*)` facts that
 * ggml's ggml-common.h asserts (QK_K = 256 for the K, IQ and TQ families); ids ggml retired
 * stay zero, so the GGUF reader rejects them as unknown.
 */
#include "engine/engine.h"

struct type_traits {
    const char *name;
    uint32_t block_size;  /* elements per block */
    uint32_t block_bytes; /* bytes per block */
};

static const struct type_traits type_traits[ENG_TYPE_COUNT] = {
    [ENG_TYPE_F32] = {"F32", 1, 4},
    [ENG_TYPE_F16] = {"F16", 1, 2},
    [ENG_TYPE_Q4_0] = {"Q4_0", 32, 18},   /* f16 d + 16 B nibbles */
    [ENG_TYPE_Q4_1] = {"Q4_1", 32, 20},   /* f16 d, m + 16 B nibbles */
    [ENG_TYPE_Q5_0] = {"Q5_0", 32, 22},   /* f16 d + 4 B high bits + 16 B */
    [ENG_TYPE_Q5_1] = {"Q5_1", 32, 24},   /* f16 d, m + 4 B + 16 B */
    [ENG_TYPE_Q8_0] = {"Q8_0", 32, 34},   /* f16 d + 32 B */
    [ENG_TYPE_Q8_1] = {"Q8_1", 32, 36},   /* f16 d, s + 32 B */
    [ENG_TYPE_Q2_K] = {"Q2_K", 256, 84},  /* 16 scales + 64 qs + f16 d, dmin */
    [ENG_TYPE_Q3_K] = {"Q3_K", 256, 110}, /* 32 hmask + 64 qs + 12 scales + f16 d */
    [ENG_TYPE_Q4_K] = {"Q4_K", 256, 144}, /* f16 d, dmin + 12 scales + 128 qs */
    [ENG_TYPE_Q5_K] = {"Q5_K", 256, 176}, /* f16 d, dmin + 12 + 32 qh + 128 qs */
    [ENG_TYPE_Q6_K] = {"Q6_K", 256, 210}, /* 128 ql + 64 qh + 16 scales + f16 d */
    [ENG_TYPE_Q8_K] = {"Q8_K", 256, 292}, /* f32 d + 256 qs + 16 i16 bsums */
    [ENG_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [ENG_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [ENG_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [ENG_TYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [ENG_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [ENG_TYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [ENG_TYPE_IQ2_S] = {"IQ2_S", 256, 82},
    [ENG_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [ENG_TYPE_I8] = {"I8", 1, 1},
    [ENG_TYPE_I16] = {"I16", 1, 2},
    [ENG_TYPE_I32] = {"I32", 1, 4},
    [ENG_TYPE_I64] = {"I64", 1, 8},
    [ENG_TYPE_F64] = {"F64", 1, 8},
    [ENG_TYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [ENG_TYPE_BF16] = {"BF16", 1, 2},
    [ENG_TYPE_TQ1_0] = {"TQ1_0", 256, 54},
    [ENG_TYPE_TQ2_0] = {"TQ2_0", 256, 66},
};

static const struct type_traits *traits(uint32_t type)
{
    if (type >= ENG_TYPE_COUNT || type_traits[type].block_size == 0) return NULL;
    return &type_traits[type];
}

const char *eng_type_name(uint32_t type)
{
    const struct type_traits *t = traits(type);
    return t ? t->name : NULL;
}

uint32_t eng_type_block_size(uint32_t type)
{
    const struct type_traits *t = traits(type);
    return t ? t->block_size : 0;
}

uint32_t eng_type_block_bytes(uint32_t type)
{
    const struct type_traits *t = traits(type);
    return t ? t->block_bytes : 0;
}

const char *eng_err_str(int err)
{
    switch (err) {
    case ENG_OK: return "ok";
    case ENG_ERR_NOMEM: return "out of memory";
    case ENG_ERR_IO: return "input/output error";
    case ENG_ERR_FORMAT: return "malformed file or wrong value type";
    case ENG_ERR_RANGE: return "out of range or not found";
    case ENG_ERR_UNSUPPORTED: return "unsupported";
    case ENG_ERR_CANCELLED: return "cancelled";
    }
    return "unknown error";
}
