import sys

from training.cli import main

if __name__ == "__main__":  # the guard matters: frame decoding may spawn a helper process
    sys.exit(main())
