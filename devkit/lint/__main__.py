import sys

from devkit.lint.cli import main

sys.exit(main())
