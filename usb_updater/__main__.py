import sys

from usb_updater.cli import main

sys.exit(main())
