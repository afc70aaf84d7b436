"""The report of a run: the terminal text and the Markdown of benches/results/<stem>.md, assembled
from each section's own renderer (every suite renders what it measured), and the files a run
writes: <stem>.md and <stem>.json, and for full and quick runs the scaling page.

<stem> is `latest` for a full run, else the mode's name (`quick`, `check`), so a smoke run or the
gate never overwrites the published figures.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import append_batch
import append_single
import append_threads
import compaction
import compressed
import dask_validation
import gate
import memory
import open_time
import ops_undo
import ops_writes
import recover
import replay
import rollback_to
import scaling
import signatures
import targets
import validation

Section = Callable[[dict[str, Any]], tuple[list[str], list[str]]]


def _optional(key: str, render: Section) -> Section:
    """A section that not every mode measures (--check leaves out rollback, recovery and replay)."""
    return lambda results: render(results[key]) if key in results else ([], [])


# In report order, after the head and the targets.
SECTIONS: tuple[Section, ...] = (
    append_batch.render,
    append_single.render,
    append_threads.render,
    validation.render,
    signatures.render,
    memory.render,
    scaling.render,
    _optional("ops_writes", ops_writes.render),
    _optional("ops_undo", ops_undo.render),
    _optional("replay", replay.render),
    _optional("recover", recover.render),
    _optional("rollback_to", rollback_to.render),
    _optional("compressed", compressed.render),
    _optional("open_time", open_time.render),
    _optional("compaction", compaction.render),
    _optional("distributed", dask_validation.render),
    _optional("gate", gate.render),
)


def stem_of(mode: str) -> str:
    return mode if mode != "full" else "latest"


def scaling_path(out_dir: Path, stem: str, ext: str) -> Path:
    """scaling.md / scaling.png beside latest.*; a quick run's carry its stem (scaling-quick.md)."""
    return out_dir / (f"scaling.{ext}" if stem == "latest" else f"scaling-{stem}.{ext}")


def head(results: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The run, the machine and the workload."""
    m, w, cfg = results["machine"], results["workload"], results["config"]
    title = (
        f"kfm-wal benchmarks ({cfg['name']}) {results['started']}: {m['cpu_model']}, {m['cores']} cores, "
        f"Python {m['python']}, Linux {m['kernel']}, {m['filesystem']} on {m['fs_device']}"
    )
    wl = (
        f"workload: {w['pool']:,} intents built up front (seed {w['seed']}), "
        f"encoded {w['mean_bytes']:.0f} B mean ({w['min_bytes']}-{w['max_bytes']}), "
        f"log line {w['intent_line_bytes']} B + seal line {w['seal_line_bytes']} B per commit"
    )
    txt = [title, wl, ""]
    md = [
        "# kfm-wal benchmark results",
        "",
        f"- run: {cfg['name']}, {results['started']}, {results['elapsed_s']:.0f} s",
        f"- machine: {m['cpu_model']}, {m['cores']} cores, "
        f"{m['memory_gb']} GB, Python {m['python']}, Linux {m['kernel']}",
        f"- file system of the scratch logs: {m['filesystem']} on {m['fs_device']} ({m['fs_mount']}, "
        f"{m['fs_options']}), same as the repository: {m['same_fs_as_repo']}",
        f"- kfm-wal {m['kfm_wal']} at {m['git_commit'] or '?'}{' (dirty tree)' if m['git_dirty'] else ''} "
        f"({m['kfm_wal_core']}); SQLite {m['sqlite']}; orjson {m['orjson']}; "
        f"lmdb {m.get('lmdb') or 'not installed'}; rocksdict {m.get('rocksdict') or 'not installed'}",
        f"- load average at start / end: {', '.join(f'{x:.2f}' for x in m['loadavg_start'])} / "
        f"{', '.join(f'{x:.2f}' for x in m['loadavg_end'])}",
        f"- {wl}",
        "",
    ]
    return txt, md


def render(results: dict[str, Any], judged: list[targets.Target]) -> tuple[str, str]:
    """(plain text for the terminal, Markdown for the results file)."""
    txt, md = head(results)
    for t_lines, m_lines in [targets.render(judged), *(section(results) for section in SECTIONS)]:
        txt += t_lines
        md += m_lines

    md = _numbered(md)
    if results["warnings"]:
        txt.append("Warnings:")
        md += ["## Warnings", ""]
        for wmsg in results["warnings"]:
            txt.append(f"  - {wmsg}")
            md.append(f"- {wmsg}")
        md.append("")
    return "\n".join(txt), "\n".join(md)


def _numbered(md: list[str]) -> list[str]:
    """Number the sections' `## N. ` headings in report order: a mode leaves sections out and
    suites were added over time, so the numbers the suites write are not their place here."""
    out, n = [], 0
    for line in md:
        m = _SECTION_HEADING.match(line)
        if m:
            n += 1
            line = f"## {n}. {line[m.end() :]}"
        out.append(line)
    return out


_SECTION_HEADING = re.compile(r"## \d+\. ")


def write(results: dict[str, Any], markdown: str, out_dir: Path, stem: str) -> list[Path]:
    """Write the run's files; the paths written, in the order they are announced."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / f"{stem}.md", out_dir / f"{stem}.json"]
    written[0].write_text(markdown + "\n", encoding="utf-8")
    written[1].write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if results["config"]["name"] != "check":  # the gate's sizes make no scaling curve
        page = scaling_path(out_dir, stem, "md")
        page.write_text(scaling.render_md(results), encoding="utf-8")
        written.append(page)
        if results.get("plot"):
            written.append(Path(results["plot"]))
    return written
