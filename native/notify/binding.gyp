{
  # Builds build/Release/notify.node, loaded by src/probes/notify-socket.ts. Plain C + Node-API,
  # with libuv from Node's own headers for the uv_poll watcher.
  "targets": [
    {
      "target_name": "notify",
      "sources": ["notify.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
