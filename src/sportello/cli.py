"""`sportello`: the project's one command (Django management under one name).

sportello run            migrate, load demo data on first start, serve web + worker
sportello serve          the web server        sportello worker   the background worker
sportello demo           load demo data        sportello createadmin --email E --password P
sportello token EMAIL    print a new API token sportello migrate | check | <any manage command>
sportello secrets list|create|rotate|delete   webhook signing secrets
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sportello.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "sportello"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
