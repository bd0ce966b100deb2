// One sequence's decode step in plain C++, against the very libllama node-llama-cpp ships: the figure
// bench/decode-threads.ts compares with (the same native decode, called from Node's thread pool).
//
//   B=node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
//   git clone node_modules/node-llama-cpp/llama/gitRelease.bundle /tmp/llama.cpp   # headers only
//   g++ -O2 -I/tmp/llama.cpp/include -I/tmp/llama.cpp/ggml/include bench/native/decode-loop.cpp \
//     $B/libllama.v0.5.0.so $B/libggml.v0.5.0.so $B/libggml-base.so -Wl,-rpath,$B -o /tmp/decode-loop
//   BACKEND_DIR=$B /tmp/decode-loop bench/models/synthetic-qwen05b-152k.gguf 2>/dev/null
//
// Context as the server makes it: 4 sequences of 2048 tokens, batch 512, 2 threads, per-sequence KV.
#include "ggml-backend.h"
#include "llama.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char ** argv) {
  if (argc < 2) return 1;
  llama_backend_init();
  ggml_backend_load_all_from_path(getenv("BACKEND_DIR"));
  llama_model * model = llama_model_load_from_file(argv[1], llama_model_default_params());
  auto params = llama_context_default_params();
  params.n_ctx = 2048 * 4;
  params.n_batch = params.n_ubatch = 512;
  params.n_seq_max = 4;
  params.n_threads = params.n_threads_batch = 2;
  params.kv_unified = false;
  llama_context * ctx = llama_init_from_model(model, params);
  const int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
  std::vector<double> steps;
  llama_batch batch = llama_batch_init(512, 0, 1);
  for (int round = 0; round < 3; round++) {
    llama_memory_clear(llama_get_memory(ctx), true);
    batch.n_tokens = 200;
    for (int i = 0; i < 200; i++) {
      batch.token[i] = 100 + (i * 7) % 500;
      batch.pos[i] = i;
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = 0;
      batch.logits[i] = i == 199;
    }
    llama_decode(ctx, batch);
    for (int s = 0; s < 63; s++) {
      const float * logits = llama_get_logits_ith(ctx, -1);
      batch.n_tokens = 1;
      batch.token[0] = std::max_element(logits, logits + vocab) - logits;
      batch.pos[0] = 200 + s;
      batch.logits[0] = 1;
      auto started = std::chrono::steady_clock::now();
      llama_decode(ctx, batch);
      steps.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    }
  }
  double mean = 0;
  for (double t : steps) mean += t / steps.size();
  std::sort(steps.begin(), steps.end());
  auto at = [&](double p) { return steps[(size_t) (p * (steps.size() - 1))]; };
  printf("decode p10 / p50 / p90 / mean: %.1f / %.1f / %.1f / %.1f ms\n", at(0.1), at(0.5), at(0.9), mean);
  llama_batch_free(batch);
  return 0;
}
