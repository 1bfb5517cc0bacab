// tiktoken_bench.mjs — the reference side of bench/tokenizer: npm `tiktoken` (OpenAI's Rust
// tiktoken core compiled to WebAssembly) loaded with the GLM-4 ranks, pattern and special
// tokens, encoding a corpus exactly as bench/tok_bench.c does with glmterm's tokenizer.
//
// Protocol (shared with tok_bench.c): load the ranks file, read the corpus, one warm-up
// encode, then REPS timed encodes of the whole corpus with encode_ordinary (special-token
// text is plain text); report MB/s (10^6 bytes of UTF-8 input per second) of the median rep,
// the number of ids and FNV-1a 64 over the ids as little-endian u32, so that both sides can be
// shown to have done the same work. The timed call includes what any Node caller pays: copying
// the string into WebAssembly memory and the ids back out.
//
// Usage: node bench/tiktoken_bench.mjs TOKENIZER_MODEL CORPUS [REPS]   (REPS default 5)
// Output: "key value" lines (impl, version, load_s, bytes, reps, mbps_median, mbps_min,
// mbps_max, ids, checksum) for bench/tokenizer to read.

import fs from "node:fs";
import { Tiktoken } from "tiktoken/lite";

// GLM-4 pre-tokeniser pattern and special tokens (../shared/spec/glm4-chat.md §1).
const GLM4_PATTERN =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|" +
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GLM4_SPECIALS = {
    "<|endoftext|>": 151329,
    "[MASK]": 151330,
    "[gMASK]": 151331,
    "[sMASK]": 151332,
    "<sop>": 151333,
    "<eop>": 151334,
    "<|system|>": 151335,
    "<|user|>": 151336,
    "<|assistant|>": 151337,
    "<|observation|>": 151338,
    "<|begin_of_image|>": 151339,
    "<|end_of_image|>": 151340,
    "<|begin_of_video|>": 151341,
    "<|end_of_video|>": 151342,
};

function die(msg) {
    console.error(`tiktoken_bench: ${msg}`);
    process.exit(2);
}

// FNV-1a 64 over the ids as little-endian u32, in two 32-bit halves (h = hi:lo).
// Multiplying by the prime 2^40 + 0x1b3: lo*0x1b3 stays below 2^53, so it is exact in a double.
function fnv1a64(ids) {
    let hi = 0xcbf29ce4,
        lo = 0x84222325;
    for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        for (let s = 0; s < 32; s += 8) {
            lo = (lo ^ ((id >>> s) & 0xff)) >>> 0;
            const p = lo * 0x1b3;
            const plo = p % 4294967296;
            const carry = Math.floor(p / 4294967296);
            hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
            lo = plo >>> 0;
        }
    }
    return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

const [modelPath, corpusPath, repsArg] = process.argv.slice(2);
if (!modelPath || !corpusPath) die("usage: tiktoken_bench.mjs TOKENIZER_MODEL CORPUS [REPS]");
const reps = repsArg === undefined ? 5 : Number(repsArg);
if (!Number.isInteger(reps) || reps < 1 || reps > 1000) die(`bad REPS '${repsArg}'`);

let ranks, corpusBuf;
try {
    ranks = fs.readFileSync(modelPath, "utf8");
    corpusBuf = fs.readFileSync(corpusPath);
} catch (e) {
    die(e.message);
}
let text;
try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(corpusBuf);
} catch {
    die(`${corpusPath}: not valid UTF-8`);
}
const bytes = corpusBuf.length;

const t0 = process.hrtime.bigint();
const enc = new Tiktoken(ranks, GLM4_SPECIALS, GLM4_PATTERN);
const loadS = Number(process.hrtime.bigint() - t0) / 1e9;

let ids = enc.encode_ordinary(text); // warm-up (also JIT and WebAssembly tier-up)
const mbps = [];
for (let r = 0; r < reps; r++) {
    const a = process.hrtime.bigint();
    ids = enc.encode_ordinary(text);
    const s = Number(process.hrtime.bigint() - a) / 1e9;
    mbps.push(bytes / 1e6 / s);
}
enc.free();
mbps.sort((x, y) => x - y);
// Median; for an even count, the mean of the middle two.
const mid = mbps.length >> 1;
const median = mbps.length % 2 ? mbps[mid] : (mbps[mid - 1] + mbps[mid]) / 2;

// package.json is not among the package's exports; read it beside this script.
const pkg = new URL("./node_modules/tiktoken/package.json", import.meta.url);
const version = JSON.parse(fs.readFileSync(pkg, "utf8")).version;
console.log(`impl tiktoken`);
console.log(`version ${version} (node ${process.versions.node})`);
console.log(`load_s ${loadS.toFixed(3)}`);
console.log(`bytes ${bytes}`);
console.log(`reps ${reps}`);
console.log(`mbps_median ${median.toFixed(2)}`);
console.log(`mbps_min ${mbps[0].toFixed(2)}`);
console.log(`mbps_max ${mbps[mbps.length - 1].toFixed(2)}`);
console.log(`ids ${ids.length}`);
console.log(`checksum ${fnv1a64(ids)}`);
