import sys

from ptcodec.cli import main

sys.exit(main())
