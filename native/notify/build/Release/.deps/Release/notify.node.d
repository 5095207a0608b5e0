cmd_Release/notify.node := ln -f "Release/obj.target/notify.node" "Release/notify.node" 2>/dev/null || (rm -rf "Release/notify.node" && cp -af "Release/obj.target/notify.node" "Release/notify.node")
