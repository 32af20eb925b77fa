"""`python -m ctxrnn.cli ...` runs the `ctxrnn` command."""

import sys

from ctxrnn.cli import main

sys.exit(main())
