{
  # Builds build/Release/listen.node, loaded by src/process/listen-sockets.ts. Plain C + Node-API,
  # with libuv from Node's own headers for the uv_poll watcher (watch.c, lazy activation).
  "targets": [
    {
      "target_name": "listen",
      "sources": ["listen.c", "fs_identity.c", "watch.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
