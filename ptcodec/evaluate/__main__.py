"""`python -m ptcodec.evaluate ...` is `ptcodec evaluate ...`."""

import sys

from ptcodec.cli import main

sys.exit(main(["evaluate", *sys.argv[1:]]))
