// Instruction counts of llama.cpp's sampler chains on a 151,936-token vocabulary, without a model: the
// chain node-llama-cpp's AddonSampler builds for each request shape, applied to fixed random logits the
// way the addon does it (copy the logits into a candidate array, then llama_sampler_apply). Linked
// against the very libllama that node-llama-cpp ships, run under callgrind (instruction counts do not
// depend on how busy the machine is):
//
//   B=node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
//   git clone node_modules/node-llama-cpp/llama/gitRelease.bundle /tmp/llama.cpp   # headers only
//   g++ -O2 -I/tmp/llama.cpp/include -I/tmp/llama.cpp/ggml/include bench/native/sampler-chain.cpp \
//     $B/libllama.v0.5.0.so -Wl,-rpath,$B -o /tmp/sampler-chain
//   for m in greedy temp topk40 topp095; do valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$m /tmp/sampler-chain $m 10; done
//   callgrind_annotate /tmp/cg.temp | head -30
//
// Modes: greedy (temperature 0), temp (temperature 0.7, no truncation: OpenAI's default), topk40, topp095, topkall.
#include "llama.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>
int main(int argc, char ** argv) {
    const char * mode = argc > 1 ? argv[1] : "temp";
    const int n = 151936, reps = argc > 2 ? atoi(argv[2]) : 20;
    std::vector<float> logits(n);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 4.0f);
    for (auto & l : logits) l = nd(rng);
    auto * chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    if (!strcmp(mode, "greedy")) llama_sampler_chain_add(chain, llama_sampler_init_greedy());
    else {
        if (!strcmp(mode, "topk40")) llama_sampler_chain_add(chain, llama_sampler_init_top_k(40));
        if (!strcmp(mode, "topp095")) llama_sampler_chain_add(chain, llama_sampler_init_top_p(0.95f, 1));
        if (!strcmp(mode, "topkall")) llama_sampler_chain_add(chain, llama_sampler_init_top_k(n));
        llama_sampler_chain_add(chain, llama_sampler_init_temp(0.7f));
        llama_sampler_chain_add(chain, llama_sampler_init_dist(1));
    }
    std::vector<llama_token_data> cand(n);
    long sum = 0;
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < n; i++) cand[i] = llama_token_data{i, logits[i], 0.0f};
        llama_token_data_array cur{cand.data(), (size_t) n, -1, false};
        llama_sampler_apply(chain, &cur);
        sum += cur.data[cur.selected].id;
    }
    printf("%s %ld\n", mode, sum);
    llama_sampler_free(chain);
}
