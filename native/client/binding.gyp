{
  # Builds build/Release/upkeep: a small standalone C program (not a Node addon), the fast front
  # of `upkeep status` that bin/upkeep runs when it is built; every other command goes to the
  # Node CLI (bin/upkeep.js). See main.c.
  "targets": [
    {
      "target_name": "upkeep",
      "type": "executable",
      "sources": ["main.c", "json.c", "socket_path.c", "buf.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
