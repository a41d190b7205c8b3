#!/usr/bin/env python
"""Django's command-line utility for administrative tasks.

An unsafe configuration (``myapp.config.UnsafeConfiguration``: an invalid security setting)
stops every command with its message and exit status 1, before the command runs.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myapp.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from myapp.config import UnsafeConfiguration

    try:
        settings.INSTALLED_APPS  # noqa: B018 - imports the settings, which refuse an unsafe configuration
    except UnsafeConfiguration as exc:
        sys.stderr.write(f"manage.py: {exc}\n")
        sys.exit(1)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
