"""`python -m kfm_wal`: the kfm-wal command line (the same as the `kfm-wal` script)."""

from .cli import main

if __name__ == "__main__":
    main()
