import signal
import sys

from devkit.lint.cli import main

# Piped into `head` and the like: end quietly when the reader goes away, as CLI tools do.
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
sys.exit(main())
