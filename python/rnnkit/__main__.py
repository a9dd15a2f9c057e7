"""The command line: ``python -m rnnkit demo``."""

import argparse

from ._demo import demo, plot_folder


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rnnkit")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "demo", help="forecast a cosine, read digits row by row, generate text; save plots"
    )
    run.add_argument("--out", default="rnnkit-demo", help="folder for the PNG plots")
    run.add_argument("--small", action="store_true", help="tiny models: a quick smoke run")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--n-jobs", type=_positive, default=None, metavar="N",
        help="threads (default: every core); 1 is much faster while other programs keep "
        "the cores busy",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "demo":
        # A file of that name, or no permission, is a usage error (argparse's message
        # and exit status 2), not demo()'s traceback from Path.mkdir.
        try:
            plot_folder(args.out)
        except OSError as e:
            parser.error(f"--out: cannot make the folder {args.out!r}: {e.strerror or e}")
        demo(args.out, small=args.small, seed=args.seed, n_jobs=args.n_jobs)


def _positive(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of threads, got {text!r}")
    return value


if __name__ == "__main__":
    main()
