{
  # Builds build/Release/spawn.node, loaded by src/process/native-spawner.ts. Plain C + Node-API,
  # with libuv from Node's own headers for the uv_poll watcher on each child's pidfd.
  # Needs glibc >= 2.34 (posix_spawn_file_actions_addclosefrom_np) and Linux >= 5.4 at run time
  # (pidfd_open, waitid(P_PIDFD)); the addon reports a kernel without them as `pidfd: false`.
  "targets": [
    {
      "target_name": "spawn",
      "sources": ["spawn.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
