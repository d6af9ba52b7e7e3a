#!/bin/bash
# Coder workspace startup (the spec's snippet): add to your template's startup script, with
# BUILDD_SERVER and BUILDD_API_KEY (and a Claude credential) in the workspace's environment.

# Install buildd-agent (into ~/.local/share/buildd-agent, command linked into ~/.local/bin)
curl -fsSL "$BUILDD_SERVER/install-agent.sh" | bash
export PATH="$HOME/.local/bin:$PATH"

# Start agent in background. It reads BUILDD_API_KEY from the environment: a key given as a flag would
# show in every user's `ps`.
buildd-agent --server="$BUILDD_SERVER" >>"$HOME/.buildd-agent.log" 2>&1 &
echo $! >"$HOME/.buildd-agent.pid"
