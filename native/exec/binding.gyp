{
  # Builds build/Release/upkeep-exec: a small standalone C program (not a Node addon) that the
  # spawner runs in front of a service to join its cgroup, set limits and drop root before exec.
  # Found at run time by src/process/exec-shim.ts.
  "targets": [
    {
      "target_name": "upkeep-exec",
      "type": "executable",
      "sources": ["exec.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
