import sys

from devkit.migrate.cli import main

sys.exit(main())
