import sys

from content_mirror.cli import main

sys.exit(main())
