"""Lean installs: a plain install has what writing, reading and validating need; the operation
layers' libraries come with extras, and using a layer without its extra says which to install.

A missing library is simulated in a fresh interpreter with `sys.modules[name] = None`, which makes
`import name` raise ModuleNotFoundError as an uninstalled package does."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from kfm_wal import Wal, extras, keys
from kfm_wal.extras import MissingExtraError, message, needs
from waltools import make_entry

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
CORE = {"orjson", "cryptography", "click", "rich", "jsonschema"}
# The distributions of each extra and the modules they provide.
DISTRIBUTIONS = {
    "stac": {"pystac-core": "pystac"},
    "graph": {"pyoxigraph": "pyoxigraph"},
    "lineage": {"openlineage-python": "openlineage", "prov": "prov", "attrs": "attr"},
    "distributed": {"dask": ("dask", "distributed"), "fsspec": "fsspec", "s3fs": "s3fs"},
}


def _modules(dists: dict[str, str | tuple[str, ...]]) -> set[str]:
    return {m for mods in dists.values() for m in ((mods,) if isinstance(mods, str) else mods)}


def _name(requirement: str) -> str:
    for i, ch in enumerate(requirement):
        if not (ch.isalnum() or ch in "-_."):
            return requirement[:i].lower()
    return requirement.lower()


@pytest.fixture(scope="module")
def project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads(PYPROJECT.read_text())["project"]
    return project


def test_a_plain_install_has_only_what_logs_need(project: dict[str, object]) -> None:
    deps = project["dependencies"]
    assert isinstance(deps, list)
    assert {_name(d) for d in deps} == CORE


def test_the_extras_install_what_kfm_wal_extras_names(project: dict[str, object]) -> None:
    optional = project["optional-dependencies"]
    assert isinstance(optional, dict)
    for extra, dists in DISTRIBUTIONS.items():
        assert {_name(d) for d in optional[extra]} == set(dists), extra
        assert set(extras.EXTRAS[extra]) == _modules(dists), extra
    assert set(extras.EXTRAS) == set(DISTRIBUTIONS)
    # ops: every operation layer, with the same version bounds
    assert sorted(optional["ops"]) == sorted(d for e in extras.OPERATION_LAYERS for d in optional[e])
    assert extras.ALL == "ops"


def test_the_parts_of_kfm_wal_need_known_extras() -> None:
    for part, needed in extras.PARTS.items():
        assert part.startswith("kfm_wal.")
        assert set(needed) <= set(extras.EXTRAS), part


# -- the message -------------------------------------------------------------------------------


def test_message_names_one_extra() -> None:
    assert (
        message("kfm-wal lineage export", ["lineage"])
        == "kfm-wal lineage export needs the 'lineage' extra: pip install 'kfm-wal[lineage]'"
    )


def test_message_names_several_extras_and_ops_for_all() -> None:
    assert (
        message("kfm_wal.ops", ["stac", "graph"])
        == "kfm_wal.ops needs the 'stac' and 'graph' extras: pip install 'kfm-wal[stac,graph]'"
    )
    assert message("x", ["stac", "graph", "lineage"]) == "x needs the 'ops' extra: pip install 'kfm-wal[ops]'"


def test_needs_turns_a_missing_optional_library_into_missing_extra_error() -> None:
    with pytest.raises(MissingExtraError) as caught, needs("thing"):
        raise ModuleNotFoundError("No module named 'prov.model'", name="prov.model")
    assert isinstance(caught.value, ImportError)
    assert caught.value.extras == ("lineage",)
    assert caught.value.name == "prov.model"
    assert str(caught.value) == "thing needs the 'lineage' extra: pip install 'kfm-wal[lineage]'"


def test_needs_lets_other_import_errors_through() -> None:
    with pytest.raises(ModuleNotFoundError) as caught, needs("thing", "stac"):
        raise ModuleNotFoundError("No module named 'numpy'", name="numpy")
    assert not isinstance(caught.value, MissingExtraError)
    with pytest.raises(ImportError) as other, needs("thing"):
        raise ImportError("cannot import name 'x' from 'pystac'", name="pystac")
    assert not isinstance(other.value, MissingExtraError)


def test_needs_renames_an_inner_missing_extra() -> None:
    with pytest.raises(MissingExtraError) as caught, needs("kfm-wal demo"), needs("kfm_wal.ops"):
        raise ModuleNotFoundError("No module named 'pyoxigraph'", name="pyoxigraph")
    assert str(caught.value).startswith("kfm-wal demo needs the 'graph' extra")


# -- simulated missing libraries ---------------------------------------------------------------


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log = tmp_path_factory.mktemp("extras") / "wal"
    with Wal.create(log, keys.generate()) as wal:
        wal.append(make_entry())
    return log


def _without(modules: tuple[str, ...], code: str, *argv: str) -> subprocess.CompletedProcess[str]:
    block = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    return subprocess.run([sys.executable, "-c", block + code, *argv], capture_output=True, text=True)


_CLI = "from kfm_wal.cli import main\nsys.argv[0] = 'kfm-wal'\nmain()"

# extra -> (modules blocked, a command that needs the extra, the command as named in the message)
CASES = {
    "stac": (("pystac",), ["validate", "--operations", "{log}"], "kfm-wal validate"),
    "graph": (("pyoxigraph",), ["validate", "--operations", "{log}"], "kfm-wal validate"),
    "lineage": (("openlineage",), ["lineage", "export", "{log}"], "kfm-wal lineage export"),
    "ops": (("pystac", "pyoxigraph", "openlineage", "prov", "attr"), ["demo", "--data", "{data}"], "kfm-wal demo"),
}


@pytest.mark.parametrize("extra", sorted(CASES))
def test_a_command_without_its_extra_says_which_to_install(extra: str, log: Path, tmp_path: Path) -> None:
    blocked, argv, command = CASES[extra]
    args = [a.format(log=log, data=tmp_path / "data") for a in argv]
    done = _without(blocked, _CLI, *args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr == (f"kfm-wal: error: {command} needs the '{extra}' extra: pip install 'kfm-wal[{extra}]'\n")
    assert not (tmp_path / "data").exists()  # the demo stopped before writing anything


@pytest.mark.parametrize("module", ["openlineage", "prov", "attr"])
def test_each_library_of_the_lineage_extra_is_named(module: str, log: Path) -> None:
    done = _without((module,), _CLI, "lineage", "emit", str(log))
    assert done.returncode == 2
    assert done.stderr == (
        "kfm-wal: error: kfm-wal lineage emit needs the 'lineage' extra: pip install 'kfm-wal[lineage]'\n"
    )


def test_approve_without_the_graph_extra(tmp_path: Path) -> None:
    done = _without(("pyoxigraph",), _CLI, "approve", str(tmp_path / "request.json"), "--key", "k", "--role", "r")
    assert done.returncode == 2
    assert "kfm-wal approve needs the 'graph' extra: pip install 'kfm-wal[graph]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_commands_without_the_ops_libraries_still_work(log: Path) -> None:
    """Writing, reading and validating need no extra."""
    everything = ("pystac", "pyoxigraph", "openlineage", "prov", "attr")
    for argv in (["validate", str(log)], ["validate", "--json", str(log)], ["log", str(log)], ["tail", str(log)]):
        done = _without(everything, _CLI, *argv)
        assert done.returncode == 0, (argv, done.stderr)


_API = """
from kfm_wal.extras import MissingExtraError
def attempt(what):
    try:
        exec(what, {})
    except MissingExtraError as e:
        print(f"{what}|{type(e).__mro__[1].__name__}|{e}")
    else:
        print(f"{what}|imported|")
for what in sys.argv[1:]:
    attempt(what)
"""


def test_the_python_api_raises_an_import_error_naming_the_extra() -> None:
    imports = [
        "import kfm_wal.ops",
        "from kfm_wal.ops import run",
        "from kfm_wal import ops",
        "import kfm_wal; kfm_wal.ops",
        "import kfm_wal.audit",
        "from kfm_wal import governance",
    ]
    done = _without(("pyoxigraph",), _API, *imports)
    assert done.returncode == 0, done.stderr
    want = "kfm_wal.ops needs the 'graph' extra: pip install 'kfm-wal[graph]'"
    lines = done.stdout.splitlines()
    assert lines[:4] == [f"{what}|ImportError|{want}" for what in imports[:4]]
    assert lines[4] == "import kfm_wal.audit|ImportError|" + want.replace("kfm_wal.ops", "kfm_wal.audit")
    assert lines[5] == "from kfm_wal import governance|ImportError|" + want.replace("kfm_wal.ops", "kfm_wal.governance")


def test_the_python_api_names_every_missing_extra_a_part_needs() -> None:
    done = _without(
        ("pystac", "pyoxigraph", "openlineage", "prov", "attr"),
        _API,
        "from kfm_wal.lineage import export",
        "import kfm_wal.ops",
        "from kfm_wal import demo",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "from kfm_wal.lineage import export|ImportError|kfm_wal.lineage needs the 'ops' extra: "
        "pip install 'kfm-wal[ops]'",
        "import kfm_wal.ops|ImportError|kfm_wal.ops needs the 'stac' and 'graph' extras: "
        "pip install 'kfm-wal[stac,graph]'",
        "from kfm_wal import demo|ImportError|kfm_wal.demo needs the 'ops' extra: pip install 'kfm-wal[ops]'",
    ]


def test_with_the_extras_the_parts_import_and_keep_their_resources() -> None:
    done = _without(
        (),
        "import kfm_wal\nfrom kfm_wal import governance, lineage, ops, demo\n"
        "print(len(governance.default_policy_bytes()) > 0, ops.run.__module__)",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "kfm_wal.ops.operation"]
