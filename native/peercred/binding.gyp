{
  # Builds build/Release/peercred.node, loaded by src/process/peercred.ts. Plain C + Node-API
  # (ABI-stable, so one build works across Node versions); no node-addon-api dependency.
  "targets": [
    {
      "target_name": "peercred",
      "sources": ["peercred.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
