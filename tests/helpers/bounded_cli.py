"""Run archcalc CLI commands in this process under an address-space limit and report,
for each, its exit status, output and how much the peak resident memory grew.

Used by tests/test_train_hostile_files.py: argv is a JSON list of command lines; the
limit is the address space after the imports plus LIMIT_GIB, so a file that makes
archcalc allocate gigabytes fails (MemoryError) instead of exhausting the machine,
and the reported growth shows what was really touched.
"""
import json
import resource
import sys

LIMIT_GIB = 3


def address_space_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    # everything the commands import, imported first, so that the growth is the data's
    import PIL.Image  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import torch  # noqa: F401
    import torchvision  # noqa: F401
    from click.testing import CliRunner

    from archcalc.cli.main import main as cli

    commands = json.loads(sys.argv[1])
    CliRunner().invoke(cli, ["build", "lenet5"])  # warm the lazy imports
    limit = address_space_bytes() + (LIMIT_GIB << 30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    results = []
    for argv in commands:
        before = peak_bytes()
        result = CliRunner().invoke(cli, argv)
        results.append({"argv": argv, "exit_code": result.exit_code, "output": result.output,
                         "exception": repr(result.exception) if result.exception and
                         not isinstance(result.exception, SystemExit) else None,
                         "growth": peak_bytes() - before})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
