"""`python -m kit`: the `kit` command."""
import sys

from kit.cli.main import main

sys.exit(main())
