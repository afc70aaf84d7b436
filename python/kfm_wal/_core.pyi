# Hand-written stub of the private extension module kfm_wal._core (rust/py). `make lint` checks it
# against the built module (python -m mypy.stubtest kfm_wal._core): every name, parameter name,
# kind and default must match the binding's, so a change to one without the other fails there.
from collections.abc import Callable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, final, overload

__all__ = [
    "array_holding_null",
    "check_entry",
    "holding_null",
    "public_key",
    "read_segment",
    "salvage",
    "segment_bytes",
    "segments",
    "verify_log",
    "verify_signature",
    "join_summaries",
    "read_segment_bytes",
    "scan_summary",
    "scan_summary_split",
    "scan_file_summary_split",
    "pair_ops",
    "scan_piece",
    "scan_file_piece",
    "merge_pieces",
    "resume_summary_split",
    "segment_checkpoints",
    "segment_name",
    "arrange_listing",
    "summary_facts",
    "Receipt",
    "ReceiptIter",
    "Receipts",
    "Pending",
    "Batch",
    "PyWriter",
    "FORMAT",
    "DEFAULT_PREALLOCATE_BYTES",
    "__version__",
]

FORMAT: str
DEFAULT_PREALLOCATE_BYTES: int
__version__: str

# Paths: the binding takes anything os.fspath accepts.
_Path = str | PathLike[str]

@final
class Receipt:
    @property
    def seq(self) -> int: ...
    @property
    def hash(self) -> str: ...
    @property
    def wal_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def segment(self) -> str: ...
    @property
    def offset(self) -> int: ...
    @property
    def seal_seq(self) -> int: ...
    @property
    def durability(self) -> str: ...

@final
class Receipts(Sequence[Receipt]):
    """One append's receipts; a Receipt object is made only when one is read."""
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, key: int, /) -> Receipt: ...
    @overload
    def __getitem__(self, key: slice, /) -> list[Receipt]: ...
    def __iter__(self) -> ReceiptIter: ...

@final
class ReceiptIter(Iterator[Receipt]):
    def __iter__(self) -> ReceiptIter: ...
    def __next__(self) -> Receipt: ...

@final
class Pending:
    def result(self, timeout: float | None = None) -> Receipts: ...
    def done(self) -> bool: ...

@final
class Batch:
    def add(self, entries: list[bytes]) -> None: ...
    def add_array(self, array: bytes, count: int) -> None: ...
    def commit(self) -> Receipts: ...
    def submit(self) -> Pending: ...

@final
class PyWriter:
    @staticmethod
    def create(
        path: _Path,
        seed: bytes,
        max_segment_bytes: int,
        max_record_bytes: int,
        durability: str,
        max_in_flight_bytes: int = ...,
        stream: str | None = ...,
    ) -> PyWriter: ...
    @staticmethod
    def open(
        path: _Path, seed: bytes, recovery: str, durability: str, max_in_flight_bytes: int = ..., verify: str = ...
    ) -> PyWriter: ...
    def append(self, kind: str, entries: list[bytes]) -> Receipts: ...
    def submit(self, kind: str, entries: list[bytes]) -> Pending: ...
    def batch(self, kind: str, background: bool = ...) -> Batch: ...
    def close(self) -> None: ...
    @property
    def archive_compression(self) -> str: ...
    def set_archive_compression(self, value: str) -> None: ...
    def set_preallocate_bytes(self, bytes: int) -> None: ...
    def wait_for_archive(self) -> str | None: ...
    @property
    def opened(self) -> tuple[int | None, int]: ...
    def head(self) -> tuple[int, str, str, str]: ...
    def stats(self) -> dict[str, int]: ...
    @property
    def log_id(self) -> str: ...
    @property
    def key_id(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def poisoned(self) -> str | None: ...
    @property
    def recovery(self) -> list[dict[str, Any]]: ...

def segments(path: _Path) -> list[tuple[int, int, Path, bool]]: ...
def segment_bytes(path: _Path, archived: bool) -> bytes: ...
def read_segment(
    path: _Path,
    number: int,
    first_seq: int,
    archived: bool,
    from_seq: int = 0,
    to_seq: int = ...,
    offset: int = 0,
) -> tuple[list[tuple[int, str, int, str, bytes]], int]: ...
def verify_log(
    path: _Path,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    checkpoint: dict[str, Any] | None = None,
    stop_after: int | None = None,
    progress: Callable[[int, int], object] | None = None,  # raising stops the scan
    pending_ids: bool = False,
    check_signatures: bool = True,
) -> dict[str, Any]: ...
def segment_name(name: str) -> tuple[int, int] | None: ...
def arrange_listing(entries: list[tuple[str, bool]]) -> list[tuple[str, bool, int, int]]: ...
def scan_summary(
    name: str,
    data: bytes,
    archived: bool,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> bytes: ...
def scan_summary_split(
    name: str,
    data: bytes,
    archived: bool,
    parts: int,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> tuple[bytes, list[bytes]]: ...
def scan_file_summary_split(
    path: _Path,
    archived: bool,
    parts: int,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> tuple[bytes, list[bytes]]: ...
def scan_piece(
    path: _Path,
    archived: bool,
    data: bytes,
    base: int,
    total: int,
    index: int,
    piece_bytes: int,
    head: bytes,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> bytes | None: ...
def scan_file_piece(
    path: _Path,
    archived: bool,
    total: int,
    index: int,
    piece_bytes: int,
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> bytes: ...
def merge_pieces(pieces: list[bytes], parts: int) -> tuple[bytes, list[bytes]] | None: ...
def pair_ops(segments: list[tuple[str, bytes]], part: int = 0, parts: int = 1, pending: list[str] = ...) -> bytes: ...
def resume_summary_split(
    name: str,
    data: bytes,
    archived: bool,
    parts: int,
    checkpoint: dict[str, Any],
    keyring: list[str] | None = None,
    check_bodies: bool = True,
    check_signatures: bool = True,
) -> tuple[bytes, list[bytes]]: ...
def join_summaries(
    summaries: list[bytes],
    keyring: list[str] | None = None,
    pending_ids: bool = False,
    check_signatures: bool = True,
    stop_after: int | None = None,
    elapsed: float = 0.0,
    paired: list[bytes] | None = None,
    checkpoint: dict[str, Any] | None = None,
    listing: list[tuple[str, bool]] | None = None,
    resumed: bytes | None = None,
    vouched_bytes: int = 0,
    cuts: list[tuple[int, int, str, list[str]]] | None = None,
) -> dict[str, Any]: ...
def segment_checkpoints(name: str, data: bytes) -> list[list[tuple[int, int, str, list[str]]]]: ...
def summary_facts(summary: bytes) -> dict[str, Any]: ...
def read_segment_bytes(
    name: str, data: bytes, archived: bool, from_seq: int = 0, to_seq: int = ...
) -> list[tuple[int, str, int, str, bytes]]: ...
def public_key(seed: bytes) -> tuple[str, str]: ...
def check_entry(kind: str, entry: bytes) -> tuple[str, str] | None: ...
def holding_null(entries: list[bytes]) -> list[int]: ...
def array_holding_null(array: bytes) -> list[int] | None: ...
def verify_signature(public_key: str, message: bytes, signature: str) -> bool: ...
def salvage(src: _Path, dst: _Path) -> dict[str, Any]: ...
