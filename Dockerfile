# syntax=docker/dockerfile:1
#
# gguf-serve images. Two targets:
#   docker build -t gguf-serve:cuda .                  # default: NVIDIA CUDA 13 runtime (node-llama-cpp 3.22's
#                                                      # prebuilt CUDA binaries link against CUDA 13)
#   docker build -t gguf-serve:cpu --target cpu .      # CPU only, small
# Run (models are downloaded into, or read from, the /models volume; without GGUF_SERVE_MODEL or
# --model the default model, Qwen2.5-0.5B-Instruct Q8_0, is downloaded there once):
#   docker run --gpus all -p 8080:8080 -v gguf-models:/models gguf-serve:cuda
#   docker run --gpus all -p 8080:8080 -v gguf-models:/models -e GGUF_SERVE_MODEL=hf:org/repo:Q4_K_M gguf-serve:cuda

ARG NODE_IMAGE=node:22.12.0-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:13.0.0-runtime-ubuntu24.04

# ---- build: compile the TypeScript (dev dependencies, no install scripts: the sources come later) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
RUN npm run build

# ---- production dependencies, every prebuilt llama.cpp binary for linux-x64 ----
# --ignore-scripts: the root "prepare" script would compile again (tsc is a dev dependency), and
# node-llama-cpp's postinstall is skipped by package.json anyway. The arm packages install on x64 too
# (their "cpu" field lists x64) and Vulkan is not in these images: both are removed.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@node-llama-cpp/linux-arm* node_modules/@node-llama-cpp/linux-x64-vulkan \
 && npm cache clean --force

# ---- the CPU-only dependency set: no CUDA binaries (about 450 MB smaller) ----
FROM deps AS deps-cpu
RUN rm -rf node_modules/@node-llama-cpp/linux-x64-cuda*

# ---- cpu: small CPU-only image ----
FROM ${NODE_IMAGE} AS cpu
ENV NODE_ENV=production \
    GGUF_SERVE_HOST=0.0.0.0 \
    GGUF_SERVE_PORT=8080 \
    GGUF_SERVE_CACHE_DIR=/models \
    GGUF_SERVE_GPU=none
RUN groupadd --gid 10001 gguf \
 && useradd --uid 10001 --gid gguf --no-create-home --home-dir /app --shell /usr/sbin/nologin gguf \
 && mkdir -p /models && chown gguf:gguf /models
WORKDIR /app
COPY --from=deps-cpu /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json config.example.yaml ./
VOLUME ["/models"]
EXPOSE 8080
USER gguf
# start-period: the first start may download the model before /health can answer 200.
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.GGUF_SERVE_PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["start"]

# ---- node: the Node.js runtime, copied into the CUDA image (no package manager or network needed) ----
FROM ${NODE_IMAGE} AS node

# ---- cuda: NVIDIA CUDA 13 runtime (cudart, cuBLAS) + Node.js; the default target ----
FROM ${CUDA_IMAGE} AS cuda
ENV NODE_ENV=production \
    GGUF_SERVE_HOST=0.0.0.0 \
    GGUF_SERVE_PORT=8080 \
    GGUF_SERVE_CACHE_DIR=/models \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
COPY --from=node /usr/local/bin/node /usr/local/bin/node
RUN groupadd --gid 10001 gguf \
 && useradd --uid 10001 --gid gguf --no-create-home --home-dir /app --shell /usr/sbin/nologin gguf \
 && mkdir -p /models && chown gguf:gguf /models
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json config.example.yaml ./
VOLUME ["/models"]
EXPOSE 8080
USER gguf
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.GGUF_SERVE_PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["start"]
